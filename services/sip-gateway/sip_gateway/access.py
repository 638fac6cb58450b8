"""Trunk access control: the source address must be in the allow-list; with digest credentials
configured, an INVITE must also authenticate (sippy's digest and nonce code). Anything else: 403."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def address_allowed(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in networks)


def digest_verdict(req: Any, username: str, password: str) -> str:
    """ "ok", "challenge" (no credentials yet: 401) or "forbidden" (wrong ones: 403)."""
    if req.countHFs("authorization") == 0:
        return "challenge"
    auth = req.getHFBody("authorization")
    if auth.username != username:
        return "forbidden"
    if not auth.verify(password, req.getMethod()):
        return "forbidden"
    return "ok"
