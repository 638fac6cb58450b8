"""JSON Schema export of the /api/v1/call messages (and, through internal_schema, the internal ones).

    python -m voicebot_protocol.schema docs/schema

writes one file per message (`client.<event>.schema.json`, `server.<event>.schema.json`) and one per
direction (`client-message.schema.json`, `server-message.schema.json`, the discriminated unions),
and the internal channels' `internal.*.schema.json` (voicebot_protocol.internal_schema).
Client messages use the validation schema (what the server accepts), server messages the
serialization schema (what the server sends)."""

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from voicebot_protocol.client import (
    PROTOCOL_VERSION,
    CallAccepted,
    CallEnded,
    CallFailed,
    CallStart,
    CallTerminated,
    ClientMessage,
    ErrorEvent,
    MediasoupRequest,
    MediasoupResponse,
    PlayAudio,
    PlaybackAck,
    ServerMessage,
    StopAudio,
    Transcript,
)
from voicebot_protocol.internal_schema import build_internal_schemas

CLIENT_MODELS: tuple[type[BaseModel], ...] = (CallStart, MediasoupRequest, CallTerminated, PlaybackAck)
SERVER_MODELS: tuple[type[BaseModel], ...] = (
    CallAccepted,
    MediasoupResponse,
    PlayAudio,
    StopAudio,
    CallFailed,
    CallEnded,
    ErrorEvent,
    Transcript,
)

Mode = Literal["validation", "serialization"]


def _event_name(model: type[BaseModel]) -> str:
    return str(model.model_fields["event"].default)


def _require_event(node: Any) -> None:
    """`event` has a default in the models (so they can be built without it) but is required on the wire."""
    if isinstance(node, dict):
        event = node.get("properties", {}).get("event") if isinstance(node.get("properties"), dict) else None
        if isinstance(event, dict) and "const" in event:
            required = node.setdefault("required", [])
            if "event" not in required:
                required.insert(0, "event")
        for value in node.values():
            _require_event(value)
    elif isinstance(node, list):
        for value in node:
            _require_event(value)


def _with_header(schema: dict[str, Any], file_name: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": file_name,
        "x-protocol-version": PROTOCOL_VERSION,
        **schema,
    }


def build_schemas() -> dict[str, dict[str, Any]]:
    """file name → JSON Schema, for every message and both directions."""
    files: dict[str, dict[str, Any]] = {}
    sides: tuple[tuple[str, tuple[type[BaseModel], ...], Any, Mode], ...] = (
        ("client", CLIENT_MODELS, ClientMessage, "validation"),
        ("server", SERVER_MODELS, ServerMessage, "serialization"),
    )
    for side, models, union, mode in sides:
        for model in models:
            name = f"{side}.{_event_name(model)}.schema.json"
            files[name] = _with_header(model.model_json_schema(mode=mode), name)
        name = f"{side}-message.schema.json"
        union_schema = TypeAdapter(union).json_schema(mode=mode)
        files[name] = _with_header({"title": f"{side.capitalize()}Message", **union_schema}, name)
    for schema in files.values():
        _require_event(schema)
    return files | build_internal_schemas()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in build_schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m voicebot_protocol.schema <directory>", file=sys.stderr)
        return 2
    for path in write_schemas(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
