"""Errors of the controller's API: a machine code (MediaApiError.code) and an HTTP status."""

from voicebot_protocol.media import MediaApiError

# mediasoup service error code → (our code, HTTP status)
_SERVICE_CODES: dict[str, tuple[str, int]] = {
    "not_found": ("not_found", 404),
    "foreign_object": ("foreign_object", 403),
    "invalid_params": ("invalid_request", 400),
    "unknown_method": ("forbidden_method", 403),
    "worker_unavailable": ("media_unavailable", 503),
    "internal": ("media_error", 502),
}


class MediaError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> str:
        return MediaApiError(code=self.code, message=self.message).to_json()


class ServiceUnavailable(MediaError):
    """The mediasoup service cannot be reached (not connected, connection lost, timed out)."""

    def __init__(self, message: str) -> None:
        super().__init__("media_unavailable", message, 503)


class ServiceRequestFailed(MediaError):
    """The mediasoup service answered ok=false."""

    def __init__(self, service_code: str, message: str) -> None:
        code, status = _SERVICE_CODES.get(service_code, ("media_error", 502))
        super().__init__(code, message, status)
        self.service_code = service_code


def not_found(message: str) -> MediaError:
    return MediaError("not_found", message, 404)


def forbidden_method(message: str) -> MediaError:
    return MediaError("forbidden_method", message, 403)


def foreign_object(message: str) -> MediaError:
    return MediaError("foreign_object", message, 403)


def invalid_request(message: str) -> MediaError:
    return MediaError("invalid_request", message, 400)


def at_capacity(message: str) -> MediaError:
    """MEDIA_CONTROLLER_MAX_SESSIONS sessions are open: call-api tries another controller."""
    return MediaError("capacity", message, 503)


def draining(message: str) -> MediaError:
    """The controller is stopping (SIGTERM): it takes no new sessions."""
    return MediaError("draining", message, 503)
