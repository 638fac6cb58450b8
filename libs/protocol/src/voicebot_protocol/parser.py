"""The one parser every side uses: a raw frame → a typed message, or a ProtocolError."""

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from voicebot_protocol.client import CLIENT_EVENTS, ClientMessage, ServerMessage
from voicebot_protocol.codes import ErrorCode
from voicebot_protocol.errors import ProtocolError
from voicebot_protocol.validation import describe_validation_error

DEFAULT_MAX_FRAME_BYTES = 64 * 1024

_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def _utf8_length_exceeds(text: str, max_bytes: int) -> bool:
    # A character is 1 to 4 bytes in UTF-8: only frames in between need encoding to know.
    if len(text) * 4 <= max_bytes:
        return False
    if len(text) > max_bytes:
        return True
    return len(text.encode("utf-8", errors="surrogatepass")) > max_bytes


def _load_object(raw: str | bytes, max_bytes: int) -> dict[str, Any]:
    if isinstance(raw, bytes | bytearray):
        raise ProtocolError(ErrorCode.BINARY_FRAME, "binary frames are not part of the protocol")
    if _utf8_length_exceeds(raw, max_bytes):
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, f"frame exceeds {max_bytes} bytes")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.NOT_JSON, f"frame is not JSON: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer literal with too many digits
        raise ProtocolError(ErrorCode.NOT_JSON, f"frame is not JSON: {exc}") from None
    except RecursionError:  # e.g. "[[[[…" 60 000 levels deep: valid-looking, but not a message
        raise ProtocolError(ErrorCode.NOT_JSON, "frame is not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.NOT_OBJECT, "frame must be a JSON object")
    return data


def parse_client_message(raw: str | bytes, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> ClientMessage:
    data = _load_object(raw, max_bytes)
    event = data.get("event")
    if event not in CLIENT_EVENTS:
        raise ProtocolError(ErrorCode.UNKNOWN_EVENT, f"unknown event {event!r}")
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, describe_validation_error(exc)) from None


def parse_server_message(raw: str | bytes, max_bytes: int = 1024 * 1024) -> ServerMessage:
    data = _load_object(raw, max_bytes)
    try:
        return _server_adapter.validate_python(data)
    except ValidationError as exc:
        code = ErrorCode.INVALID_MESSAGE if "event" in data else ErrorCode.UNKNOWN_EVENT
        raise ProtocolError(code, describe_validation_error(exc)) from None
