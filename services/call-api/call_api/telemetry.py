"""OpenTelemetry for the call-api: the process's tracer provider plus FastAPI and Redis instrumentation."""

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from voicebot_tracing import setup_tracing

from call_api.endpoint import CALL_PATH
from call_api.settings import Settings

SERVICE_NAME = "call-api"


def instrument_app(app: FastAPI) -> None:
    # The call's WebSocket gets its own "call" span (session.py) continuing the gateway's trace;
    # the generic ASGI instrumentation would add a span per frame.
    FastAPIInstrumentor.instrument_app(app, excluded_urls=CALL_PATH)


def setup_process_tracing(settings: Settings) -> None:
    """Once per worker process, after the fork (span exporters run a thread)."""
    setup_tracing(SERVICE_NAME, settings.trace_exporter, settings.otlp_endpoint)
    redis = RedisInstrumentor()
    if not redis.is_instrumented_by_opentelemetry:
        redis.instrument()
