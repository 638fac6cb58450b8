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
