"""The protocol's outcomes as SIP final responses (the table of docs/sip-gateway.md)."""

from __future__ import annotations

FAILED_TO_SIP: dict[str, tuple[int, str]] = {
    "tts_unavailable": (503, "Service Unavailable"),
    "media_unavailable": (503, "Service Unavailable"),
    "server_draining": (503, "Service Unavailable"),
    "duplicate_call": (486, "Busy Here"),
}
DEFAULT_FAILURE = (500, "Server Internal Error")
# The gateway's own failures before the call was accepted.
UNREACHABLE = (503, "Service Unavailable")  # call-api down, refused the handshake, timed out
NO_COMMON_CODEC = (488, "Not Acceptable Here")


def sip_status_for_failure(code: str | None) -> tuple[int, str]:
    return FAILED_TO_SIP.get(code or "", DEFAULT_FAILURE)
