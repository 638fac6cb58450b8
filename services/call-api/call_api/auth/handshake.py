"""The credential check of one /api/v1/call handshake, before the WebSocket upgrade.

The credential: `Authorization: Bearer <gateway key | call token>`, or `?token=<...>` for gateways
(and browsers) that cannot set headers. A browser's `Origin` must be listed. Refusals carry the
codes of docs/security.md; the credential itself is never logged."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from call_api.auth.errors import AuthRefusal, forbidden_origin, unauthorized
from call_api.auth.identity import ANONYMOUS, GatewayIdentity
from call_api.auth.keys import GatewayKey, find_gateway
from call_api.auth.spent import NonceStore, SpentTokens
from call_api.auth.tokens import is_call_token, verify_call_token

log = logging.getLogger(__name__)


@dataclass
class Authenticator:
    keys: list[GatewayKey]
    token_secret: bytes | None
    allowed_origins: frozenset[str] = frozenset()
    required: bool = True
    spent: SpentTokens = field(default_factory=lambda: SpentTokens(None))

    @classmethod
    def create(
        cls,
        *,
        keys: list[GatewayKey],
        token_secret: str | None,
        allowed_origins: list[str],
        required: bool,
        nonce_store: NonceStore | None,
    ) -> "Authenticator":
        return cls(
            keys=keys,
            token_secret=token_secret.encode() if token_secret else None,
            allowed_origins=frozenset(o.rstrip("/").lower() for o in allowed_origins),
            required=required,
            spent=SpentTokens(nonce_store),
        )

    def check_origin(self, headers: Mapping[str, str]) -> None:
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/").lower() not in self.allowed_origins:
            raise forbidden_origin(origin)

    async def authenticate(self, headers: Mapping[str, str], query: Mapping[str, str]) -> GatewayIdentity:
        """The caller's identity, or AuthRefusal."""
        self.check_origin(headers)
        credential = credential_of(headers, query)
        if credential is None:
            if not self.required:
                return ANONYMOUS
            raise unauthorized("no credential (Authorization: Bearer <token>, or ?token=)")
        if is_call_token(credential):
            return await self._call_token(credential)
        gateway_id = find_gateway(self.keys, credential)
        if gateway_id is None:
            raise unauthorized("unknown gateway key")
        return GatewayIdentity(gateway_id=gateway_id, kind="gateway_key", may_set_trace_id=True)

    def authenticate_gateway_key(self, headers: Mapping[str, str]) -> GatewayIdentity:
        """Only a gateway key (e.g. to mint call tokens); a call token is refused and not spent."""
        credential = credential_of(headers, {})
        if credential is None or is_call_token(credential):
            raise unauthorized("a gateway key is required (Authorization: Bearer <gateway key>)")
        gateway_id = find_gateway(self.keys, credential)
        if gateway_id is None:
            raise unauthorized("unknown gateway key")
        return GatewayIdentity(gateway_id=gateway_id, kind="gateway_key", may_set_trace_id=True)

    async def _call_token(self, token: str) -> GatewayIdentity:
        if self.token_secret is None:
            raise unauthorized("call tokens are not enabled (no token secret)")
        claims = verify_call_token(self.token_secret, token)
        if not await self.spent.spend(claims.nonce, claims.expires_at):
            raise unauthorized("call token already used")
        return GatewayIdentity(
            gateway_id=claims.gateway_id, kind="call_token", may_set_trace_id=False, call_id=claims.call_id
        )


def credential_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("Authorization must be 'Bearer <token>'")
        return value.strip()
    token = query.get("token")
    return token.strip() if token and token.strip() else None


__all__ = ["AuthRefusal", "Authenticator", "credential_of"]
