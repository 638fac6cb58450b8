"""Machine-readable codes shared by every side: WebSocket close codes, error
codes for protocol errors, failure codes for call_failed, end reasons for call_ended."""

from enum import IntEnum, StrEnum


class CloseCode(IntEnum):
    """WebSocket close codes used by /api/v1/call (4000-4999 are application codes)."""

    NORMAL = 1000  # call_terminated by the client, or the dialog ended
    GOING_AWAY = 1001  # server draining (SIGTERM) after the grace period
    UNSUPPORTED_DATA = 1003  # a binary frame before acceptance
    POLICY_VIOLATION = 1008  # protocol violated before acceptance
    MESSAGE_TOO_BIG = 1009  # a frame over the size limit
    INTERNAL_ERROR = 1011  # an unexpected server error
    TRY_AGAIN_LATER = 1013  # refused while the server drains (call_failed server_draining was sent)
    UNAUTHORIZED = 4401  # a call token used for another call_id (the handshake itself answers HTTP 401)
    CALL_START_TIMEOUT = 4408  # no call_start within the timeout
    DUPLICATE_CALL = 4409  # the call_id is already active on some worker
    ORCHESTRATOR_FAILED = 4503  # the factory raised (call_failed was sent)
    MEDIA_FAILURE = 4502  # the media plane died mid-call (call_ended was sent)
    PROVIDER_FAILURE = 4504  # STT/LLM/TTS retries ran out (call_ended was sent)
    TOO_MANY_ERRORS = 4429  # the client kept sending garbage mid-call
    CLIENT_NOT_READING = 4413  # the client stopped reading: its unsent messages passed the bound


class ErrorCode(StrEnum):
    """Codes of protocol errors (the `error` event and ProtocolError.code)."""

    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    UNKNOWN_EVENT = "unknown_event"
    INVALID_MESSAGE = "invalid_message"
    BINARY_FRAME = "binary_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    UNEXPECTED_EVENT = "unexpected_event"  # valid message, wrong moment (e.g. a second call_start)
    MEDIA_REQUEST_FAILED = "media_request_failed"


class FailureCode(StrEnum):
    """Machine codes carried by call_failed next to the human `reason`."""

    TTS_UNAVAILABLE = "tts_unavailable"
    MEDIA_UNAVAILABLE = "media_unavailable"
    ORCHESTRATOR_ERROR = "orchestrator_error"
    CALL_START_TIMEOUT = "call_start_timeout"
    PROTOCOL_ERROR = "protocol_error"
    DUPLICATE_CALL = "duplicate_call"
    SERVER_DRAINING = "server_draining"
    CAPACITY = "capacity"  # every media controller is full or draining, or none is live
    UNAUTHORIZED = "unauthorized"  # no or a wrong credential (HTTP 401 on the handshake)
    FORBIDDEN_ORIGIN = "forbidden_origin"  # a browser Origin that is not listed (HTTP 403)


class EndReason(StrEnum):
    """Why the server ended an accepted call (the `call_ended` event)."""

    DIALOG_COMPLETED = "dialog_completed"
    MEDIA_FAILURE = "media_failure"
    PROVIDER_FAILURE = "provider_failure"
    SERVER_SHUTDOWN = "server_shutdown"
    TOO_MANY_ERRORS = "too_many_errors"
    INTERNAL_ERROR = "internal_error"
    TRANSFERRED = "transferred"  # the gateway reported a successful transfer (transfer_result ok)
    MAX_DURATION = "max_duration"  # the call reached CALL_API_MAX_CALL_SECONDS
    CALLER_SILENCE = "caller_silence"  # no caller RTP for CALL_API_CALLER_SILENCE_SECONDS
    # The client stopped reading its WebSocket (send queue over CALL_API_SEND_QUEUE_BYTES, or a send
    # stuck for CALL_API_SEND_TIMEOUT): close 4413 without call_ended (it would not be read).
    CLIENT_NOT_READING = "client_not_reading"
