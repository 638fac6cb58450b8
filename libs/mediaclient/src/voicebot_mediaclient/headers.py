"""Trace headers of every request: X-Trace-ID and a W3C traceparent of the same trace."""

import secrets

from voicebot_tracing import traceparent_for


def trace_headers(trace_id: str | None) -> dict[str, str]:
    current = traceparent_for()
    if not trace_id:
        return {"traceparent": current} if current else {}
    if current is None or current[3:35] != trace_id:
        current = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    return {"X-Trace-ID": trace_id, "traceparent": current}
