"""Call tokens: short-lived, single-use credentials a gateway key mints (for a browser page, or a
gateway that cannot keep a key). `vbt1.<payload>.<signature>`, both base64url; payload JSON
`{"g": gateway_id, "c": call_id|null, "exp": unix seconds, "n": nonce}`, signature
HMAC-SHA256(CALL_API_TOKEN_SECRET, "vbt1." + payload). Single use is enforced by the handshake
(the nonce is spent, see handshake.py), not here: this module is pure."""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from call_api.auth.errors import unauthorized

TOKEN_VERSION = "vbt1"
MAX_TOKEN_CHARS = 2048


@dataclass(frozen=True)
class CallTokenClaims:
    gateway_id: str
    call_id: str | None
    expires_at: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, signed_part: str) -> str:
    return _b64(hmac.new(secret, signed_part.encode(), hashlib.sha256).digest())


def mint_call_token(
    secret: bytes, gateway_id: str, *, ttl_seconds: int, call_id: str | None = None, now: float | None = None
) -> tuple[str, CallTokenClaims]:
    claims = CallTokenClaims(
        gateway_id=gateway_id,
        call_id=call_id,
        expires_at=int((now if now is not None else time.time()) + ttl_seconds),
        nonce=secrets.token_urlsafe(12),
    )
    body = json.dumps(
        {"g": claims.gateway_id, "c": claims.call_id, "exp": claims.expires_at, "n": claims.nonce},
        separators=(",", ":"),
    )
    signed_part = f"{TOKEN_VERSION}.{_b64(body.encode())}"
    return f"{signed_part}.{_sign(secret, signed_part)}", claims


def is_call_token(credential: str) -> bool:
    return credential.startswith(TOKEN_VERSION + ".")


def verify_call_token(secret: bytes, token: str, *, now: float | None = None) -> CallTokenClaims:
    """Raises AuthRefusal(unauthorized) for a malformed, forged or expired token."""
    if len(token) > MAX_TOKEN_CHARS:
        raise unauthorized("call token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise unauthorized("malformed call token")
    signed_part = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(secret, signed_part), parts[2]):
        raise unauthorized("call token signature mismatch")
    try:
        body = json.loads(_unb64(parts[1]))
        claims = CallTokenClaims(
            gateway_id=str(body["g"]),
            call_id=None if body.get("c") is None else str(body["c"]),
            expires_at=int(body["exp"]),
            nonce=str(body["n"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise unauthorized("malformed call token") from None
    if claims.expires_at <= (now if now is not None else time.time()):
        raise unauthorized("call token expired")
    return claims
