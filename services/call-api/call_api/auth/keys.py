"""Gateway keys: long-lived secrets a gateway presents as `Authorization: Bearer <key>`.

The server keeps only their SHA-256 digests (CALL_API_GATEWAY_KEYS=`<gateway_id>:<hex digest>,...`),
several per gateway at once so a key can be rotated without a gap. Keys are random 32-byte
strings, so a plain digest (no slow KDF) is enough: there is nothing to brute-force."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "vbk_"
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class GatewayKey:
    gateway_id: str
    digest: str  # sha256 hex of the key


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_gateway_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def valid_gateway_id(gateway_id: str) -> bool:
    return bool(_GATEWAY_ID.match(gateway_id))


def parse_gateway_keys(spec: str) -> list[GatewayKey]:
    """`gw1:<digest>,gw1:<digest2>,sip:<digest3>`; raises ValueError naming the bad entry."""
    keys = []
    for index, entry in enumerate(part.strip() for part in spec.split(",")):
        if not entry:
            continue
        gateway_id, _, digest = entry.partition(":")
        digest = digest.strip().lower()
        if not valid_gateway_id(gateway_id) or not _DIGEST.match(digest):
            raise ValueError(f"gateway key #{index + 1}: expected <gateway_id>:<sha256 hex>")
        keys.append(GatewayKey(gateway_id, digest))
    return keys


def find_gateway(keys: list[GatewayKey], presented: str) -> str | None:
    """The gateway whose key this is; every digest is compared (in constant time) either way."""
    digest = hash_key(presented)
    found = None
    for key in keys:
        if hmac.compare_digest(key.digest, digest):
            found = key.gateway_id
    return found
