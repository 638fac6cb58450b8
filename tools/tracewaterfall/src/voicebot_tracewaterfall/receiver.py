"""A local OTLP/HTTP trace receiver (otlp_http) that appends every span to a store file: point
OTEL_EXPORTER_OTLP_ENDPOINT of `make up` at it."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from voicebot_tracewaterfall import spans as spanstore
from voicebot_tracewaterfall.otlp_http import OtlpHttpServer

log = logging.getLogger("voicebot_tracewaterfall.receiver")


class Receiver:
    def __init__(self, store: Path, host: str = "127.0.0.1", port: int = 4318) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._http = OtlpHttpServer(self._append, host, port)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> Receiver:
        self._http.start()
        log.info(json.dumps({"event": "otlp_receiver_listening", "url": self.url, "store": str(self.store)}))
        return self

    def stop(self) -> None:
        self._http.stop()

    def _append(self, spans: list[spanstore.Span]) -> None:
        with self._lock:
            spanstore.append(self.store, spans)
