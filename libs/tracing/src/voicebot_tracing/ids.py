"""Trace ids are 32 lowercase hex characters: the W3C / OpenTelemetry trace id."""

import re
import secrets

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def new_trace_id() -> str:
    return secrets.token_hex(16)


def is_valid_trace_id(value: str | None) -> bool:
    return bool(value) and bool(_TRACE_ID.match(value or "")) and value != "0" * 32


def normalize_trace_id(value: str | None) -> str | None:
    """Accept a trace id in any case, with or without dashes (a UUID); None if it is not one."""
    if not value:
        return None
    candidate = value.strip().lower().replace("-", "")
    return candidate if is_valid_trace_id(candidate) else None


_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_span_id() -> str:
    return secrets.token_hex(8)


def make_traceparent(trace_id: str, span_id: str | None = None, *, sampled: bool = True) -> str:
    """A W3C traceparent header for this trace id (a fresh parent span id unless given)."""
    return f"00-{trace_id}-{span_id or new_span_id()}-{'01' if sampled else '00'}"


def trace_id_of_traceparent(traceparent: str | None) -> str | None:
    """The trace id a W3C traceparent carries; None if it is not a valid one."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    if not match or not is_valid_trace_id(match.group(1)) or match.group(2) == "0" * 16:
        return None
    return match.group(1)
