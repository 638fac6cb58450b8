"""`POST /api/v1/web-token`: a browser page gets a short-lived call token for one call.

A page cannot hold a gateway key, so this endpoint needs no credential. Instead: the request's
`Origin` must be listed in CALL_API_ALLOWED_ORIGINS (403 `forbidden_origin`; a request without one
is refused too, since every browser sends it on a POST), each client address may mint at most
CALL_API_WEB_TOKENS_PER_MINUTE tokens (429 `rate_limited`, with Retry-After), and the token is
minted for the gateway id CALL_API_WEB_GATEWAY_ID (default `web`), bound to a `call_id` the server
chooses, for CALL_API_WEB_TOKEN_TTL_SECONDS (default 30). Answer 201
`{"token", "gateway_id", "call_id", "expires_at"}`; 503 `web_tokens_disabled` without a token
secret or with CALL_API_WEB_TOKENS_ENABLED=false. docs/softphone.md, docs/security.md."""

import ipaddress
import logging
import math
import secrets
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from call_api import metrics
from call_api.auth.tokens import mint_call_token

log = logging.getLogger(__name__)
WEB_TOKEN_PATH = "/api/v1/web-token"
LIMITER_MAX_ADDRESSES = 50_000  # a flood of addresses cannot grow the table without bound

router = APIRouter()


class WebTokenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALL_API_WEB_", frozen=True)

    tokens_enabled: bool = True
    gateway_id: str = Field(default="web", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    token_ttl_seconds: int = Field(default=30, ge=5, le=600)
    tokens_per_minute: int = Field(default=10, ge=1)
    # Peers whose X-Real-IP names the client (the gateway nginx); anyone else is the client itself.
    trusted_proxies: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


@dataclass
class AddressRateLimiter:
    """A token bucket per client address: `per_minute` tokens, refilled continuously."""

    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # address → (tokens, at)

    def take(self, address: str, now: float | None = None) -> float:
        """0 if allowed, else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        if address not in self._buckets and len(self._buckets) >= LIMITER_MAX_ADDRESSES:
            self._buckets = {
                a: b for a, b in self._buckets.items() if b[0] + (now - b[1]) * rate < self.per_minute
            }
        tokens, at = self._buckets.get(address, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            return (1.0 - tokens) / rate
        self._buckets[address] = (tokens - 1.0, now)
        return 0.0


def client_address(request: Request, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-real-ip")
    if forwarded and _is_in(peer, trusted):
        return forwarded.strip()[:64]
    return peer


def _is_in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip()) for part in text.split(",") if part.strip()]


@dataclass
class WebTokenIssuer:
    settings: WebTokenSettings
    limiter: AddressRateLimiter
    trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]

    @classmethod
    def from_environment(cls) -> "WebTokenIssuer":
        settings = WebTokenSettings()
        return cls(
            settings, AddressRateLimiter(settings.tokens_per_minute), parse_networks(settings.trusted_proxies)
        )


def _refusal(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    metrics.auth_refused(code)
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _issuer(request: Request) -> WebTokenIssuer:
    issuer: WebTokenIssuer | None = getattr(request.app.state, "web_token_issuer", None)
    if issuer is None:  # one per worker process, made on first use
        issuer = request.app.state.web_token_issuer = WebTokenIssuer.from_environment()
    return issuer


@router.post(WEB_TOKEN_PATH)
async def web_token(request: Request) -> JSONResponse:
    issuer = _issuer(request)
    authenticator = request.app.state.authenticator
    address = client_address(request, issuer.trusted)
    origin = request.headers.get("origin")
    if not issuer.settings.tokens_enabled or authenticator.token_secret is None:
        return _refusal(503, "web_tokens_disabled", "browser call tokens are not enabled on this server")
    if origin is None or origin.rstrip("/").lower() not in authenticator.allowed_origins:
        log.warning("web token refused: origin", extra={"origin": (origin or "")[:100], "client": address})
        return _refusal(403, "forbidden_origin", f"origin {(origin or '')[:100]!r} is not allowed")
    wait = issuer.limiter.take(address)
    if wait > 0:
        log.warning("web token refused: rate limited", extra={"client": address})
        retry = str(max(1, math.ceil(wait)))
        return _refusal(429, "rate_limited", "too many call tokens from this address", {"Retry-After": retry})
    call_id = f"web-{secrets.token_hex(8)}"
    token, claims = mint_call_token(
        authenticator.token_secret,
        issuer.settings.gateway_id,
        ttl_seconds=issuer.settings.token_ttl_seconds,
        call_id=call_id,
    )
    # Logged as the call is named inside the system (docs/security.md, namespaces).
    log.info("web token minted", extra={"call_id": f"{claims.gateway_id}~{call_id}", "client": address})
    return JSONResponse(
        {
            "token": token,
            "gateway_id": claims.gateway_id,
            "call_id": claims.call_id,
            "expires_at": claims.expires_at,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )
