"""The call-api ASGI application: `create_app()` (main.py serves it as `main:app`)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from voicebot_tracing import setup_logging

from call_api import endpoint, health, metrics
from call_api.auth import Authenticator, parse_gateway_keys, web_tokens
from call_api.auth import routes as auth_routes
from call_api.cache import RedisCacheManager
from call_api.factory_loader import load_factory
from call_api.instance_header import InstanceHeaderMiddleware
from call_api.registry import CallRegistry
from call_api.settings import AuthSettings, Settings
from call_api.telemetry import (
    SERVICE_NAME,
    instrument_app,
    setup_process_tracing,
    shutdown_process_tracing,
)

log = logging.getLogger(__name__)

FACTORY_HOOK_TIMEOUT_SECONDS = 30.0


async def run_factory_hook(factory: object, name: str) -> None:
    """A factory may carry `startup` / `shutdown` coroutine functions, run once per worker process.
    A failing startup is logged, not fatal: the factory then refuses calls with call_failed."""
    hook = getattr(factory, name, None)
    if hook is None:
        return
    try:
        async with asyncio.timeout(FACTORY_HOOK_TIMEOUT_SECONDS):
            await hook()
    except Exception:  # includes the timeout: a worker that never boots helps nobody
        log.exception("orchestrator factory %s hook failed", name)


def make_authenticator(settings: AuthSettings, cache: RedisCacheManager) -> Authenticator:
    keys = parse_gateway_keys(settings.gateway_keys)
    if settings.auth_required and not keys and not settings.token_secret:
        log.error("no gateway keys and no token secret: every call will be refused (docs/security.md)")
    if not settings.auth_required:
        log.warning("gateway authentication is OFF (CALL_API_AUTH_REQUIRED=false): anyone can place calls")
    return Authenticator.create(
        keys=keys,
        token_secret=settings.token_secret,
        allowed_origins=settings.allowed_origin_list,
        required=settings.auth_required,
        nonce_store=cache,
    )


def create_app(settings: Settings | None = None, *, configure_logging: bool = True) -> FastAPI:
    settings = settings or Settings()
    if configure_logging:
        setup_logging(SERVICE_NAME, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Runs in each worker after the fork: one Redis client and one tracer provider per process.
        setup_process_tracing(settings)
        factory = load_factory(settings.orchestrator_factory)
        app.state.factory = factory
        cache = RedisCacheManager(settings.cache.redis_url)
        app.state.cache = cache
        app.state.authenticator = make_authenticator(settings.auth, cache)
        app.state.registry = CallRegistry(
            cache, ttl_seconds=settings.call_ttl_seconds, instance=settings.instance
        )
        log.info(
            "call-api worker ready",
            extra={"instance": settings.instance, "factory": settings.orchestrator_factory},
        )
        await run_factory_hook(factory, "startup")
        try:
            yield
        finally:
            await run_factory_hook(factory, "shutdown")
            await cache.aclose()
            await asyncio.to_thread(shutdown_process_tracing)  # the spans of the last calls

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(endpoint.router)
    app.include_router(auth_routes.router)
    app.include_router(web_tokens.router)
    app.include_router(metrics.router)
    app.add_middleware(InstanceHeaderMiddleware, instance=settings.instance)
    instrument_app(app)
    return app
