"""A tiny OTLP/HTTP trace receiver for tests: POST /v1/traces with the real protobuf
(ExportTraceServiceRequest; the Python services) or OTLP JSON (the Node mediasoup service),
decoded and kept in memory. Runs in a thread on a loopback free port,
so it keeps receiving whatever the test's event loop does."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: int
    attributes: dict[str, Any] = field(hash=False)
    start_ns: int = 0
    end_ns: int = 0


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _json_value(value: dict[str, Any]) -> Any:
    for key, raw in value.items():
        return int(raw) if key == "intValue" else raw
    return None


def decode_json(body: bytes) -> list[Span]:
    """OTLP/HTTP JSON (the spec's encoding: ids in hex, 64-bit integers as strings)."""
    spans: list[Span] = []
    for resource_spans in json.loads(body).get("resourceSpans", []):
        resource = {
            a["key"]: _json_value(a["value"])
            for a in resource_spans.get("resource", {}).get("attributes", [])
        }
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                spans.append(
                    Span(
                        service=str(resource.get("service.name", "?")),
                        name=span["name"],
                        trace_id=span["traceId"].lower(),
                        span_id=span["spanId"].lower(),
                        parent_span_id=(span.get("parentSpanId") or "").lower() or None,
                        kind=int(span.get("kind", 0)),
                        attributes={a["key"]: _json_value(a["value"]) for a in span.get("attributes", [])},
                        start_ns=int(span.get("startTimeUnixNano", 0)),
                        end_ns=int(span.get("endTimeUnixNano", 0)),
                    )
                )
    return spans


def decode(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", "?"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        service=service,
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        kind=span.kind,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                    )
                )
    return spans


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request body, by Content-Length or chunked (OpenTelemetry JS streams its exports)."""
    if "chunked" not in (request.headers.get("Transfer-Encoding") or "").lower():
        return request.rfile.read(int(request.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(request.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
        chunks.append(request.rfile.read(size))
        request.rfile.readline()  # the CRLF after each chunk
    while request.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
        pass
    return b"".join(chunks)


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests = 0
        self.bad_requests: list[str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = _read_body(self)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                content_type = self.headers.get("Content-Type") or ""
                if self.path != "/v1/traces" or not ("protobuf" in content_type or "json" in content_type):
                    receiver._bad(f"{self.path} {content_type}")
                    self.send_response(404)
                    self.end_headers()
                    return
                if "json" in content_type:  # the mediasoup service (Node) exports OTLP JSON
                    receiver._add(decode_json(body))
                    answer, answer_type = b"{}", "application/json"
                else:
                    receiver._add(decode(body))
                    answer = ExportTraceServiceResponse().SerializeToString()
                    answer_type = "application/x-protobuf"
                self.send_response(200)
                self.send_header("Content-Type", answer_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _add(self, spans: list[Span]) -> None:
        with self._changed:
            self.spans.extend(spans)
            self.requests += 1
            self._changed.notify_all()

    def _bad(self, what: str) -> None:
        with self._changed:
            self.bad_requests.append(what)

    def of_trace(self, trace_id: str) -> list[Span]:
        with self._changed:
            return [s for s in self.spans if s.trace_id == trace_id]

    def wait_for(
        self, predicate: Callable[[list[Span]], bool], trace_id: str, timeout: float, what: str
    ) -> list[Span]:
        """The trace's spans once predicate(spans) holds; TimeoutError (with what we have) otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                spans = [s for s in self.spans if s.trace_id == trace_id]
                if predicate(spans):
                    return spans
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = sorted({f"{s.service}:{s.name}" for s in spans})
                    raise TimeoutError(f"timed out waiting for {what}; spans of the trace: {names}")
                self._changed.wait(remaining)


def missing_parents(spans: list[Span]) -> dict[str, list[Span]]:
    """Parent span ids not in the set → the spans that name them (the roots of the forest)."""
    ids = {s.span_id for s in spans}
    roots: dict[str, list[Span]] = {}
    for span in spans:
        if span.parent_span_id is None or span.parent_span_id not in ids:
            roots.setdefault(span.parent_span_id or "", []).append(span)
    return roots
