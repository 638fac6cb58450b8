"""The HTTP + per-call WebSocket API (see voicebot_protocol.media) on aiohttp."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import WSMsgType, web
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from voicebot_protocol.media import CreateSession, SignalRequest, SignalResponse, control_command_adapter
from voicebot_protocol.validation import describe_validation_error
from voicebot_tracing import bind_call, parent_context_for

from media_controller import errors, metrics
from media_controller.auth import check_secret_strength, require_secret
from media_controller.errors import MediaError, ServiceUnavailable
from media_controller.outbox import Outbox
from media_controller.sessions import Sessions
from media_controller.settings import Settings
from media_controller.tracing import request_trace_id

log = logging.getLogger(__name__)
tracer = trace.get_tracer("media_controller")

SESSIONS = web.AppKey("sessions", Sessions)
Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MAX_PCM_FRAME = 256 * 1024


def _json(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="application/json")


async def _read_model(request: web.Request, model: type[Model]) -> Model:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        raise errors.invalid_request(describe_validation_error(exc, whole="body")) from None


@web.middleware
async def call_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Logs carry the call's ids; commands become SERVER spans of the call's trace (continuing the
    traceparent, or X-Trace-ID alone: never a new root); MediaError → JSON error.

    Our own middleware rather than the aiohttp-server instrumentation: that one would start a new
    trace for a request carrying only X-Trace-ID, and a span per events WebSocket lifetime."""
    call_id = request.match_info.get("call_id")
    session = request.app[SESSIONS].get(call_id) if call_id else None
    trace_id = request_trace_id(request, session.trace_id if session else None)
    with bind_call(call_id, trace_id), contextlib.ExitStack() as stack:
        span = None
        if trace_id and request.path.startswith("/v1/") and not request.path.endswith("/events"):
            context = parent_context_for(trace_id, request.headers.get("traceparent"))
            route = (
                request.match_info.route.resource.canonical
                if request.match_info.route.resource
                else request.path
            )
            span = stack.enter_context(
                tracer.start_as_current_span(
                    f"{request.method} {route}",
                    context=context,
                    kind=trace.SpanKind.SERVER,
                    attributes={"http.request.method": request.method, "http.route": route},
                )
            )
            if call_id:
                span.set_attribute("call.id", call_id)
        try:
            response = await handler(request)
        except MediaError as exc:
            level = logging.WARNING if exc.status < 500 else logging.ERROR
            log.log(
                level, "request refused", extra={"path": request.path, "code": exc.code, "error": exc.message}
            )
            response = _json(exc.body(), exc.status)
        metrics.HTTP_REQUESTS.labels(request.method, _route_label(request), str(response.status)).inc()
        if span is not None:
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(trace.StatusCode.ERROR)
        return response


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def create_session(request: web.Request) -> web.Response:
    body = await _read_model(request, CreateSession)
    sessions = request.app[SESSIONS]
    trace_id = request_trace_id(request, body.trace_id)
    trace.get_current_span().set_attribute("call.id", body.call_id)
    if sessions.get(body.call_id) is None and not sessions.service.connected:
        raise ServiceUnavailable("the mediasoup service is not connected")
    with bind_call(body.call_id, trace_id):
        session = await sessions.open(body.call_id, trace_id, body.codec)
    return _json(session.info().to_json(), 201)


async def delete_session(request: web.Request) -> web.Response:
    await request.app[SESSIONS].close(request.match_info["call_id"])
    return web.Response(status=204)


def _session(request: web.Request) -> Any:
    session = request.app[SESSIONS].get(request.match_info["call_id"])
    if session is None:
        raise errors.not_found(f"no media session for call {request.match_info['call_id']}")
    return session


async def signal(request: web.Request) -> web.Response:
    session = _session(request)
    body = await _read_model(request, SignalRequest)
    data = await session.signal(body.method, body.data)
    return _json(SignalResponse(data=data).to_json())


async def session_stats(request: web.Request) -> web.Response:
    session = _session(request)
    stats = await request.app[SESSIONS].service.request(
        "stats", {"call_id": session.call_id}, session.traceparent()
    )
    return _json(json.dumps(stats))


async def service_stats(request: web.Request) -> web.Response:
    return _json(json.dumps(await request.app[SESSIONS].service.request("stats", {})))


async def _write_outbox(ws: web.WebSocketResponse, outbox: Outbox) -> None:
    while (item := await outbox.next()) is not None:
        if isinstance(item, str):
            await ws.send_str(item)
        else:
            await ws.send_bytes(item)
    await ws.close()


async def session_events(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session.outbox.attached:
        raise MediaError("conflict", "this call's events WebSocket is already open", 409)
    ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=_MAX_PCM_FRAME)
    await ws.prepare(request)
    session.attached()
    writer = asyncio.create_task(_write_outbox(ws, session.outbox), name=f"events-out-{session.call_id}")
    try:
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                session.bot.pcm(message.data)
            elif message.type is WSMsgType.TEXT:
                try:
                    command = control_command_adapter.validate_json(message.data)
                except ValidationError as exc:
                    log.warning("ignoring an invalid playback command", extra={"error": str(exc)[:300]})
                    continue
                session.bot.command(command)
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await writer
        session.detached()
    return ws


async def healthz(request: web.Request) -> web.Response:
    return _json('{"status":"ok"}')


async def readyz(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    if sessions.service.connected:
        return _json(json.dumps({"status": "ready", "sessions": len(sessions)}))
    return _json('{"status":"mediasoup service not connected"}', 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _close_sessions(app: web.Application) -> None:
    """On shutdown, before aiohttp waits for open handlers: ends every call's events WebSocket."""
    await app[SESSIONS].close_all()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    sessions = app[SESSIONS]
    await sessions.service.start()
    yield
    await sessions.close_all()
    await sessions.service.close()


def create_app(settings: Settings) -> web.Application:
    """Refuses (ValueError) a missing, short or placeholder secret: the API's or the service's."""
    check_secret_strength("MEDIA_CONTROLLER_API_SECRET", settings.api_secret)
    check_secret_strength("MEDIA_CONTROLLER_MEDIASOUP_SECRET", settings.service.secret)
    app = web.Application(
        middlewares=[require_secret(settings.api_secret), call_context], client_max_size=1024 * 1024
    )
    app[SESSIONS] = Sessions(settings)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_close_sessions)
    app.router.add_post("/v1/sessions", create_session)
    app.router.add_delete("/v1/sessions/{call_id}", delete_session)
    app.router.add_post("/v1/sessions/{call_id}/signal", signal)
    app.router.add_get("/v1/sessions/{call_id}/stats", session_stats)
    app.router.add_get("/v1/sessions/{call_id}/events", session_events)
    app.router.add_get("/v1/stats", service_stats)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app
