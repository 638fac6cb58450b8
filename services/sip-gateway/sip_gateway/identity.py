"""A SIP dialog's names in the protocol: call_id, trace_id and the caller's initial_vars."""

from __future__ import annotations

import hashlib
import re

from voicebot_protocol.client import VarValue
from voicebot_tracing import normalize_trace_id

from sip_gateway.settings import Settings
from sip_gateway.sipstack import IncomingCall

CALL_ID = re.compile(r"^[A-Za-z0-9._:@+-]{1,128}$")  # the protocol's call_id alphabet


def protocol_call_id(sip_call_id: str) -> str:
    """The SIP Call-ID itself when the protocol allows it, else a stable digest of it."""
    if CALL_ID.match(sip_call_id):
        return sip_call_id
    return "sip-" + hashlib.sha256(sip_call_id.encode()).hexdigest()[:32]


def trace_id_for(settings: Settings, call: IncomingCall) -> str:
    """The configured header's trace id when valid, else one derived from the Call-ID (so both the
    gateway's and call-api's logs of a dialog carry the same id, and a retry keeps it)."""
    if settings.trace_id_header:
        given = normalize_trace_id(call.headers.get(settings.trace_id_header.lower()))
        if given:
            return given
    return hashlib.sha256(call.sip_call_id.encode()).hexdigest()[:32]


def var_name(header: str) -> str:
    name = header.lower()
    if name.startswith("x-"):
        name = name[2:]
    return name.replace("-", "_")


def initial_vars(settings: Settings, call: IncomingCall) -> dict[str, VarValue]:
    found: dict[str, VarValue] = {}
    if call.display_name:
        found["contact_name"] = call.display_name.strip('"').strip()
    if call.from_user:
        found["caller"] = call.from_user
    if call.to_user:
        found["called"] = call.to_user
    for header in settings.var_header_names():
        value = call.headers.get(header.lower())
        if value is not None:
            found[var_name(header)] = value[:256]
    return found
