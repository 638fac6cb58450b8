"""SIP INFO DTMF bodies: application/dtmf-relay ("Signal=5\r\nDuration=160") and application/dtmf."""

from __future__ import annotations

DIGITS = set("0123456789*#ABCD")


def parse(content_type: str, body: str) -> tuple[str, int | None] | None:
    """(digit, duration_ms) or None when the body is not a DTMF key."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/dtmf":
        digit = body.strip().upper()
        return (digit, None) if digit in DIGITS else None
    if kind != "application/dtmf-relay":
        return None
    fields: dict[str, str] = {}
    for line in body.splitlines():
        name, _, value = line.partition("=")
        fields[name.strip().lower()] = value.strip()
    digit = fields.get("signal", "").upper()
    if digit not in DIGITS:
        return None
    duration = fields.get("duration", "")
    return digit, int(duration) if duration.isdigit() and int(duration) <= 60_000 else None
