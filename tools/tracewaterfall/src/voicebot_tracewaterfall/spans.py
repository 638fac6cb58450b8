"""Spans as the waterfall needs them, decoded from OTLP/HTTP bodies (protobuf or JSON) and kept
one JSON object per line in a store file."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict, hash=False)
    kind: int = 0  # SpanKind as OTLP numbers it (1 internal, 2 server, 3 client, ...)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _proto_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return (
        getattr(value, kind) if kind in ("string_value", "bool_value", "int_value", "double_value") else None
    )


def _json_value(value: dict[str, Any]) -> Any:
    for key, raw in value.items():
        return int(raw) if key == "intValue" else raw
    return None


def _json_id(raw: str) -> str:
    """OTLP/JSON ids are hex; some exporters send base64 (protobuf's JSON mapping)."""
    if len(raw) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in raw):
        return raw.lower()
    return base64.b64decode(raw).hex() if raw else ""


def decode_protobuf(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for rs in request.resource_spans:
        resource = {a.key: _proto_value(a.value) for a in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    Span(
                        s.trace_id.hex(),
                        s.span_id.hex(),
                        s.parent_span_id.hex(),
                        s.name,
                        str(resource.get("service.name", "?")),
                        s.start_time_unix_nano,
                        s.end_time_unix_nano,
                        {a.key: _proto_value(a.value) for a in s.attributes},
                        s.kind,
                    )
                )
    return spans


def decode_json(body: bytes) -> list[Span]:
    """OTLP/HTTP JSON (the spec's encoding: ids in hex, 64-bit integers as strings)."""
    spans = []
    for rs in json.loads(body).get("resourceSpans", []):
        resource = {a["key"]: _json_value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                spans.append(
                    Span(
                        _json_id(s["traceId"]),
                        _json_id(s["spanId"]),
                        _json_id(s.get("parentSpanId", "")),
                        s["name"],
                        str(resource.get("service.name", "?")),
                        int(s.get("startTimeUnixNano", 0)),
                        int(s.get("endTimeUnixNano", 0)),
                        {a["key"]: _json_value(a["value"]) for a in s.get("attributes", [])},
                        int(s.get("kind", 0)),
                    )
                )
    return spans


def append(store: Path, spans: list[Span]) -> None:
    with store.open("a") as out:
        for span in spans:
            out.write(json.dumps(asdict(span)) + "\n")


def load(store: Path) -> list[Span]:
    return [Span(**json.loads(line)) for line in store.read_text().splitlines() if line.strip()]


def of_call(spans: list[Span], *, trace_id: str | None = None, call_id: str | None = None) -> list[Span]:
    """One trace's spans: the given trace id, the trace of the given call, else the newest trace."""
    if trace_id is None and call_id is not None:
        trace_id = next((s.trace_id for s in spans if s.attributes.get("call.id") == call_id), None)
        if trace_id is None:
            raise LookupError(f"no span names call {call_id}")
    if trace_id is None:
        if not spans:
            raise LookupError("no spans received")
        trace_id = max(spans, key=lambda s: s.start_ns).trace_id
    chosen = [s for s in spans if s.trace_id == trace_id]
    if not chosen:
        raise LookupError(f"no spans of trace {trace_id}")
    return chosen
