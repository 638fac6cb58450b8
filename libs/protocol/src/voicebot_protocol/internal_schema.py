"""JSON Schema of the internal channels, exported beside the public one (`make schema`).

internal.media-service.*: the media-controller ⇄ mediasoup service WebSocket. The request schema
is what the Node service validates every request against (services/mediasoup/lib/validation.js):
an envelope, and per method (`if method is M then params is M's params`) the params model.
internal.media.*: the call-api ⇄ media-controller HTTP bodies and per-call WebSocket frames, and
the controller registry record in Redis (voicebot_protocol.media_registry).
Every file carries `x-protocol-version` = INTERNAL_PROTOCOL_VERSION."""

from typing import Any, cast

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from voicebot_protocol.media import (
    ControlCommand,
    CreateSession,
    MediaApiError,
    MediaEvent,
    SessionInfo,
    SignalRequest,
    SignalResponse,
)
from voicebot_protocol.media_registry import ControllerRecord
from voicebot_protocol.media_service import INTERNAL_PROTOCOL_VERSION, ServiceResponse
from voicebot_protocol.media_service_methods import SERVICE_METHODS, SessionOpened
from voicebot_protocol.media_service_notifications import TypedNotification

JsonValue = Any  # a parsed JSON document or part of one

_TRACE = {"type": "object", "properties": {"traceparent": {"type": "string"}}}


def _absent_not_null(node: JsonValue) -> JsonValue:
    """`X | None = None` means "may be absent" on these channels (they send with exclude_none):
    drop the null branch and the null default, so a null is refused like any wrong type."""
    if isinstance(node, list):
        return [_absent_not_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _absent_not_null(value) for key, value in node.items()}
    branches = node.get("anyOf")
    if node.get("default", 0) is None and isinstance(branches, list):
        kept = [branch for branch in branches if branch != {"type": "null"}]
        node.pop("default")
        node.pop("anyOf")
        node.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
    return node


def _header(schema: dict[str, Any], file_name: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": file_name,
        "x-protocol-version": INTERNAL_PROTOCOL_VERSION,
        **schema,
    }


def service_request_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    per_method = []
    for method, model in SERVICE_METHODS.items():
        schema = _schema(model.model_json_schema(ref_template="#/$defs/{model}"))
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        per_method.append(
            {
                "if": {"properties": {"method": {"const": method}}},
                "then": {"properties": {"params": {"$ref": f"#/$defs/{model.__name__}"}}},
            }
        )
    return {
        "title": "ServiceRequest",
        "description": "A request to the mediasoup service; an absent params is {}. A method not "
        "listed here is answered unknown_method.",
        "type": "object",
        "required": ["id", "method"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "method": {"type": "string"},
            "params": {"type": "object"},
            "trace": _TRACE,
        },
        "allOf": per_method,
        "$defs": dict(sorted(defs.items())),
        "x-methods": sorted(SERVICE_METHODS),
    }


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], _absent_not_null(schema))


def _model(model: type[BaseModel]) -> dict[str, Any]:
    return _schema(model.model_json_schema(mode="serialization"))


def _union(title: str, union: Any, mode: JsonSchemaMode = "validation") -> dict[str, Any]:
    return {"title": title, **_schema(TypeAdapter(union).json_schema(mode=mode))}


def build_internal_schemas() -> dict[str, dict[str, Any]]:
    """file name → JSON Schema of every internal message."""
    schemas = {
        "internal.media-service.request.schema.json": service_request_schema(),
        "internal.media-service.response.schema.json": _model(ServiceResponse),
        "internal.media-service.session-opened.schema.json": _model(SessionOpened),
        "internal.media-service.notification.schema.json": _union("ServiceNotification", TypedNotification),
        "internal.media.create-session.schema.json": _model(CreateSession),
        "internal.media.session-info.schema.json": _model(SessionInfo),
        "internal.media.signal-request.schema.json": _model(SignalRequest),
        "internal.media.signal-response.schema.json": _model(SignalResponse),
        "internal.media.error.schema.json": _model(MediaApiError),
        "internal.media.command.schema.json": _union("ControlCommand", ControlCommand),
        "internal.media.event.schema.json": _union("MediaEvent", MediaEvent, "serialization"),
        "internal.media.controller-record.schema.json": _model(ControllerRecord),
    }
    return {name: _header(schema, name) for name, schema in schemas.items()}
