"""OpenTelemetry for the call-api: the process's tracer provider, FastAPI / Redis / aiohttp-client
instrumentation, and the helpers the call's code uses for its own spans.

The call's spans: "call" (the WebSocket session, session.py) → "call_start", "factory", then
"bot_turn" / "user_turn" → "dialog.reply", "tts", "stt" (provider steps) → Redis commands and
HTTP requests (media-controller, cloud providers) from the instrumentations."""

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from voicebot_tracing import flush_tracing, setup_tracing

from call_api.settings import Settings

SERVICE_NAME = "call-api"
tracer = trace.get_tracer("call_api")

P = ParamSpec("P")
T = TypeVar("T")


def instrument_app(app: FastAPI) -> None:
    # The call's WebSocket gets its own "call" span (session.py) continuing the gateway's trace;
    # the generic ASGI instrumentation would add a span per frame. Probes are not traced.
    from call_api.endpoint import CALL_PATH  # here: endpoint → session → telemetry at import time

    FastAPIInstrumentor.instrument_app(app, excluded_urls=f"{CALL_PATH},/healthz,/readyz,/metrics")


def setup_process_tracing(settings: Settings) -> None:
    """Once per worker process, after the fork (span exporters run a thread), before any client
    (Redis, aiohttp) is created."""
    setup_tracing(SERVICE_NAME, settings.trace_exporter, settings.otlp_endpoint)
    redis = RedisInstrumentor()
    if not redis.is_instrumented_by_opentelemetry:
        redis.instrument()
    aiohttp_client = AioHttpClientInstrumentor()
    if not aiohttp_client.is_instrumented_by_opentelemetry:
        aiohttp_client.instrument()


def shutdown_process_tracing() -> None:
    flush_tracing()


def traced(name: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Run a coroutine function inside a span of that name (a child of the current span)."""

    def wrap(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            with tracer.start_as_current_span(name):
                return await fn(*args, **kwargs)

        return run

    return wrap


async def traced_stream(
    name: str,
    stream: AsyncIterator[T],
    *,
    on_first: Callable[[float], None] | None = None,
    attributes: dict[str, Any] | None = None,
) -> AsyncIterator[T]:
    """A provider's stream inside one span, from this call to its end (or close). The span is
    current only while the provider works (never across a yield), so HTTP and Redis spans of the
    provider nest under it. on_first(seconds) gets the time to the first item."""
    span = tracer.start_span(name, attributes=attributes)
    started = time.monotonic()
    items = 0
    try:
        while True:
            with trace.use_span(span, end_on_exit=False):
                try:
                    item = await anext(stream)
                except StopAsyncIteration:
                    break
            if items == 0:
                elapsed = time.monotonic() - started
                span.set_attribute("first_item_ms", round(elapsed * 1000, 1))
                if on_first is not None:
                    on_first(elapsed)
            items += 1
            yield item
    except (asyncio.CancelledError, GeneratorExit):
        span.set_attribute("stream.cancelled", True)  # barge-in, hang-up or timeout: not an error
        raise
    finally:
        span.set_attribute("items", items)
        try:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            span.end()
