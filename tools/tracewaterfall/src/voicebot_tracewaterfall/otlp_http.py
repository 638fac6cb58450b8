"""An OTLP/HTTP trace endpoint on a thread: POST /v1/traces with protobuf (the Python SDK) or JSON
(the mediasoup service's JS tracer), plain or chunked, gzip or not; every export's spans go to a
callback. The tracewaterfall receiver and the tests' in-memory receiver are both this server."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from voicebot_tracewaterfall.spans import Span, decode_json, decode_protobuf

TRACES_PATH = "/v1/traces"


def read_body(request: BaseHTTPRequestHandler) -> bytes:
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


class OtlpHttpServer:
    """`on_spans(spans)` for every export; `on_refused(what)` for a request it answers 4xx."""

    def __init__(
        self,
        on_spans: Callable[[list[Span]], None],
        host: str = "127.0.0.1",
        port: int = 0,
        on_refused: Callable[[str], None] = lambda what: None,
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = read_body(self)
                kind = self.headers.get("Content-Type") or ""
                if self.path != TRACES_PATH or not ("json" in kind or "protobuf" in kind):
                    on_refused(f"{self.path} {kind}")
                    self._answer(404, b"{}", "application/json")
                    return
                try:
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    spans = decode_json(body) if "json" in kind else decode_protobuf(body)
                except (OSError, EOFError, DecodeError, ValueError, KeyError, TypeError) as exc:
                    on_refused(f"{self.path} {kind}: {type(exc).__name__}")
                    self._answer(400, b"{}", "application/json")
                    return
                on_spans(spans)
                if "json" in kind:
                    self._answer(200, b"{}", "application/json")
                else:
                    answer = ExportTraceServiceResponse().SerializeToString()
                    self._answer(200, answer, "application/x-protobuf")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
