"""Trace context in the media-controller: the trace id of an incoming request (X-Trace-ID, else the
traceparent's, else the body's), and the spans of the commands it sends to the mediasoup service."""

import contextlib
from collections.abc import Iterator

from aiohttp import web
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from voicebot_tracing import make_traceparent, normalize_trace_id, trace_id_of_traceparent, traceparent_for

tracer = trace.get_tracer("media_controller")


def request_trace_id(request: web.Request, fallback: str | None = None) -> str | None:
    from_header = normalize_trace_id(request.headers.get("X-Trace-ID"))
    if from_header:
        return from_header
    from_parent = trace_id_of_traceparent(request.headers.get("traceparent"))
    if from_parent:
        return from_parent
    return normalize_trace_id(fallback)


def call_traceparent(trace_id: str | None, opened_in: str | None) -> str | None:
    """A call's trace context for a service command: the current span's if it is in the call's
    trace, else the one the call's session opened in, else a new parent in the call's trace."""
    for candidate in (traceparent_for(), opened_in):
        if candidate and trace_id and trace_id_of_traceparent(candidate) == trace_id:
            return candidate
    return make_traceparent(trace_id) if trace_id else traceparent_for()


def _parent(traceparent: str | None) -> Context | None:
    """The current span if it is in the traceparent's trace (or there is no traceparent); else the
    traceparent itself; None when there is neither (nothing to trace)."""
    current = trace.get_current_span().get_span_context()
    wanted = trace_id_of_traceparent(traceparent)
    if current.is_valid and (wanted is None or f"{current.trace_id:032x}" == wanted):
        return trace.set_span_in_context(trace.get_current_span())
    if wanted is not None:
        return extract({"traceparent": traceparent or ""})
    return None


@contextlib.contextmanager
def service_span(method: str, call_id: str | None, traceparent: str | None) -> Iterator[str | None]:
    """A CLIENT span around one mediasoup service command; yields the traceparent to send with it
    (the span's own, so the service's log lines and any spans it makes hang under it)."""
    parent = _parent(traceparent)
    if parent is None:
        yield traceparent
        return
    attributes = {"rpc.system": "voicebot-mediasoup", "rpc.method": method}
    if call_id:
        attributes["call.id"] = call_id
    with tracer.start_as_current_span(
        f"mediasoup {method}", context=parent, kind=trace.SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield traceparent_for(span) or traceparent
