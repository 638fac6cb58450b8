"""Who may place calls: gateway keys (long-lived, configured as hashes) and call tokens
(short-lived, HMAC-signed, single use), checked on the WebSocket handshake before the upgrade."""

from call_api.auth.errors import AuthRefusal
from call_api.auth.handshake import Authenticator
from call_api.auth.identity import GatewayIdentity
from call_api.auth.keys import GatewayKey, hash_key, new_gateway_key, parse_gateway_keys
from call_api.auth.tokens import CallTokenClaims, mint_call_token, verify_call_token

__all__ = [
    "AuthRefusal",
    "Authenticator",
    "CallTokenClaims",
    "GatewayIdentity",
    "GatewayKey",
    "hash_key",
    "mint_call_token",
    "new_gateway_key",
    "parse_gateway_keys",
    "verify_call_token",
]
