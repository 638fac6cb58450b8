"""An OTLP/HTTP trace receiver for tests: tracewaterfall's endpoint (protobuf from the Python
services, JSON from the Node mediasoup service), the spans kept in memory. Runs in a thread on a
loopback free port, so it keeps receiving whatever the test's event loop does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from voicebot_tracewaterfall.otlp_http import OtlpHttpServer
from voicebot_tracewaterfall.spans import Span

__all__ = ["OtlpReceiver", "Span", "missing_parents"]


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests = 0
        self.bad_requests: list[str] = []
        self._changed = threading.Condition()
        self._http = OtlpHttpServer(self._add, on_refused=self._bad)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> OtlpReceiver:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

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
    """Parent span ids not in the set ("" for none) → the spans that name them (the roots of the
    forest)."""
    ids = {s.span_id for s in spans}
    roots: dict[str, list[Span]] = {}
    for span in spans:
        if span.parent_span_id not in ids:
            roots.setdefault(span.parent_span_id, []).append(span)
    return roots
