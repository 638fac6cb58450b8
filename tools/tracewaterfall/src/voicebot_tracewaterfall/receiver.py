"""A local OTLP/HTTP trace receiver (POST /v1/traces, protobuf or JSON, plain or chunked, gzip)
that appends every span to a store file: point OTEL_EXPORTER_OTLP_ENDPOINT of `make up` at it."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from voicebot_tracewaterfall import spans as spanstore

log = logging.getLogger("voicebot_tracewaterfall.receiver")


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    if "chunked" not in (request.headers.get("Transfer-Encoding") or "").lower():
        return request.rfile.read(int(request.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(request.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
        chunks.append(request.rfile.read(size))
        request.rfile.readline()
    while request.rfile.readline() not in (b"\r\n", b"\n", b""):
        pass
    return b"".join(chunks)


class Receiver:
    def __init__(self, store: Path, host: str = "127.0.0.1", port: int = 4318) -> None:
        self.store = store
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = _read_body(self)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                kind = self.headers.get("Content-Type") or ""
                if self.path != "/v1/traces" or not ("json" in kind or "protobuf" in kind):
                    self._answer(404, b"{}", "application/json")
                    return
                got = spanstore.decode_json(body) if "json" in kind else spanstore.decode_protobuf(body)
                with receiver._lock:
                    spanstore.append(receiver.store, got)
                if "json" in kind:
                    self._answer(200, b"{}", "application/json")
                else:
                    self._answer(
                        200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
                    )

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        log.info(json.dumps({"event": "otlp_receiver_listening", "url": self.url, "store": str(self.store)}))
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
