"""Envelope of the media-controller ⇄ mediasoup service WebSocket (JSON text frames).

Request  {"id": 7, "method": "transport.createPlain", "params": {...}, "trace": {"traceparent": "..."}}
Response {"id": 7, "ok": true, "data": {...}}
      or {"id": 7, "ok": false, "error": {"code": "...", "message": "..."}}
Notification {"notification": "barge_in_detected", "data": {"call_id": "...", ...}}
Each method's params and answer: voicebot_protocol.media_service_methods; the notifications:
voicebot_protocol.media_service_notifications; the prose: docs/internal-protocol.md.

`session.open` answers INTERNAL_PROTOCOL_VERSION; the controller refuses a service that speaks
another one (see `protocol_version_problem`)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voicebot_protocol.media_service_methods import SERVICE_METHODS, SessionOpened
from voicebot_protocol.validation import describe_validation_error

INTERNAL_PROTOCOL_VERSION = 1
"""Version of both internal channels (call-api ⇄ media-controller ⇄ mediasoup service); the
rule for changing it is in docs/protocol.md ("Versions")."""


class ServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    trace: dict[str, str] | None = None


class ServiceError(BaseModel):
    code: str  # not_found | invalid_params | unknown_method | foreign_object | worker_unavailable | internal
    message: str


class ServiceResponse(BaseModel):
    """The answer to a request. (The service answers a frame without a usable id with `id: null`;
    the controller never sends one, and would ignore that answer as malformed.)"""

    id: int
    ok: bool
    data: dict[str, Any] | None = None
    error: ServiceError | None = None


class ServiceNotification(BaseModel):
    notification: str
    data: dict[str, Any] = Field(default_factory=dict)


IDEMPOTENT_METHODS = frozenset(
    {"session.open", "session.close", "router.getRtpCapabilities", "stats", "session.setBotSpeaking", "close"}
)
assert IDEMPOTENT_METHODS <= SERVICE_METHODS.keys()


def protocol_version_problem(session_opened: dict[str, Any]) -> str | None:
    """Why a `session.open` answer cannot be used (None: it can): a malformed answer or a service
    speaking another internal protocol version."""
    try:
        opened = SessionOpened.model_validate(session_opened)
    except ValidationError as exc:
        return f"malformed session.open answer: {describe_validation_error(exc, whole='data')}"
    if opened.protocol_version != INTERNAL_PROTOCOL_VERSION:
        return (
            f"the mediasoup service speaks internal protocol version {opened.protocol_version}, "
            f"this media-controller {INTERNAL_PROTOCOL_VERSION}"
        )
    return None
