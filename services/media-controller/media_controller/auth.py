"""The controller's own door: every route but the probes and /metrics requires
`Authorization: Bearer <secret>` (MEDIA_CONTROLLER_API_SECRET, shared with call-api), compared in
constant time. A refusal is
HTTP 401 with a MediaApiError body, code `unauthorized`."""

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from voicebot_protocol.media import MediaApiError

log = logging.getLogger(__name__)

# Probes carry no secret; /metrics holds counts only (no call ids), scraped without one.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MIN_SECRET_CHARS = 32
PLACEHOLDERS = ("change-me", "changeme", "replace", "secret", "example", "placeholder", "dev-secret")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_secret_strength(name: str, secret: str) -> None:
    """Refuse to start with a missing, short or placeholder secret (raises ValueError)."""
    lowered = secret.lower()
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"{name} must be at least {MIN_SECRET_CHARS} characters (e.g. openssl rand -hex 32)")
    if any(word in lowered for word in PLACEHOLDERS) or len(set(secret)) < 8:
        raise ValueError(f"{name} looks like a placeholder: use a random value (openssl rand -hex 32)")


def bearer_matches(header: str | None, secret: str) -> bool:
    return hmac.compare_digest((header or "").encode(), f"Bearer {secret}".encode())


def require_secret(secret: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or bearer_matches(request.headers.get("authorization"), secret):
            return await handler(request)
        log.warning(
            "request refused: bad or missing secret", extra={"path": request.path, "client": request.remote}
        )
        body = MediaApiError(code="unauthorized", message="Authorization: Bearer <secret> required").to_json()
        return web.Response(text=body, status=401, content_type="application/json")

    return middleware
