from voicebot_protocol.codes import ErrorCode


class ProtocolError(Exception):
    """A frame that is not a valid protocol message; `code` says why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
