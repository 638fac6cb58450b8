"""What a media call can fail with."""


class MediaUnavailable(Exception):
    """The media-controller or the mediasoup service is unreachable, or the session failed."""


class MediaRequestError(Exception):
    """A request the media-controller refused: `code` is MediaApiError.code
    (forbidden_method, foreign_object, not_found, invalid_request, media_error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class MediaCapacity(MediaUnavailable):
    """The controller refused a new session: `capacity` (full) or `draining` (stopping). Another
    controller may take the call."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
