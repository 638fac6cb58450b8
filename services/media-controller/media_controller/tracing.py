"""The trace id of an incoming request: X-Trace-ID, else the traceparent's, else the body's."""

from aiohttp import web
from voicebot_tracing import normalize_trace_id


def request_trace_id(request: web.Request, fallback: str | None = None) -> str | None:
    from_header = normalize_trace_id(request.headers.get("X-Trace-ID"))
    if from_header:
        return from_header
    parts = request.headers.get("traceparent", "").split("-")
    if len(parts) == 4:
        from_parent = normalize_trace_id(parts[1])
        if from_parent:
            return from_parent
    return normalize_trace_id(fallback)
