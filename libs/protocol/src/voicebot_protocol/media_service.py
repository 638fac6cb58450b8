"""Envelope of the media-controller ⇄ mediasoup service WebSocket (JSON text frames).

Request  {"id": 7, "method": "transport.createPlain", "params": {...}, "trace": {"traceparent": "..."}}
Response {"id": 7, "ok": true, "data": {...}}
      or {"id": 7, "ok": false, "error": {"code": "...", "message": "..."}}
Notification {"notification": "barge_in_detected", "data": {"call_id": "...", ...}}
Methods and notifications are listed in docs/internal-protocol.md."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    trace: dict[str, str] | None = None


class ServiceError(BaseModel):
    code: str
    message: str


class ServiceResponse(BaseModel):
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
