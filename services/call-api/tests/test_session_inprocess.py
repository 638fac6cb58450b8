"""The call's resources, seen from inside the worker: the app runs under a real uvicorn server in the
test's own event loop, so the test can look at its asyncio tasks and its call registry."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from call_api.app import create_app
from call_api.registry import active_call_key
from call_api.settings import CacheSettings, Settings
from fastapi import FastAPI
from voicebot_protocol import EndReason
from voicebot_stack.credentials import scoped_call_id

from tests.support.callapi import (
    CALL_TERMINATED,
    expect_close,
    factory_path,
    mediasoup_request,
    open_call,
    recv_json,
)
from tests.support.factories import closed_event
from tests.support.procs import free_port
from tests.support.redis import RedisServer


@pytest.fixture
def redis_for_app(tmp_path: Path) -> RedisServer:
    server = RedisServer(tmp_path).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
async def served_app(redis_for_app: RedisServer) -> AsyncIterator[tuple[FastAPI, str]]:
    port = free_port()
    settings = Settings(
        bind=f"127.0.0.1:{port}",
        cache=CacheSettings(redis_url=redis_for_app.url),
        orchestrator_factory=factory_path("create_echo_orchestrator"),
        call_ttl_seconds=3,  # refreshed every second: the refresher task is exercised too
        orchestrator_close_timeout=1.0,  # how long a call's end waits for a task that ignores it
    )
    app = create_app(settings, configure_logging=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for "started")
            await asyncio.sleep(0.01)
    yield app, f"ws://127.0.0.1:{port}/api/v1/call"
    server.should_exit = True
    await asyncio.wait_for(serving, 10)


def call_tasks(call_id: str) -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if call_id in t.get_name()}


async def all_done(tasks: set[asyncio.Task[object]]) -> bool:
    if not tasks:
        return True
    _, pending = await asyncio.wait(tasks, timeout=5)
    return not pending


@pytest.mark.parametrize("ending", ["call_terminated", "disconnect"])
async def test_nothing_of_the_call_survives_its_end(
    served_app: tuple[FastAPI, str], redis_for_app: RedisServer, ending: str
) -> None:
    app, url = served_app
    baseline = set(asyncio.all_tasks())
    call_id = f"inproc-{ending}"
    ws = await open_call(url, call_id)
    await ws.send(mediasoup_request(1))
    assert (await recv_json(ws))["event"] == "play_audio"
    assert (await recv_json(ws))["event"] == "mediasoup_response"
    assert call_tasks(call_id), "the call's tasks should be named after it"
    assert app.state.registry.active_calls == 1
    assert await app.state.cache.get_bytes(active_call_key(scoped_call_id(call_id))) is not None

    if ending == "call_terminated":
        await ws.send(CALL_TERMINATED)
        assert (await expect_close(ws))[0] == 1000
    else:
        ws.transport.abort()

    async with asyncio.timeout(5):
        await closed_event(call_id).wait()
    # Everything started since the call began (its tasks, uvicorn's connection task) finishes.
    assert await all_done(call_tasks(call_id))
    assert await all_done(set(asyncio.all_tasks()) - baseline - {asyncio.current_task()})
    assert app.state.registry.active_calls == 0
    assert await app.state.cache.get_bytes(active_call_key(scoped_call_id(call_id))) is None


async def test_the_call_span_continues_the_gateway_trace(served_app: tuple[FastAPI, str]) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)  # set up by the app's lifespan
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _, url = served_app
    trace_id, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"X-Trace-ID": trace_id, "traceparent": f"00-{trace_id}-{parent_span}-01"}
    ws = await open_call(url, "traced-call", headers)
    await ws.send(CALL_TERMINATED)
    await expect_close(ws)
    async with asyncio.timeout(5):
        await closed_event("traced-call").wait()
    exporter.force_flush()
    spans = [s for s in exporter.get_finished_spans() if s.name == "call"]
    assert len(spans) == 1
    span = spans[0]
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == parent_span
    assert span.attributes is not None and span.attributes["call.id"] == "traced-call"


async def test_a_refresher_that_swallows_its_cancellation_does_not_keep_the_call_open(
    served_app: tuple[FastAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's asyncio.wait_for (redis-py's socket writes use it) can swallow a cancellation:
    the claim refresher then goes on, and the call's end must not wait for it forever. In the soak
    such a call never closed its media session (the orchestrator's aclose)."""
    app, url = served_app
    registry = app.state.registry
    real_refresh = registry.refresh
    refreshing = asyncio.Event()

    async def refresh_swallowing_cancellation(call_id: str, token: str) -> None:
        if refreshing.is_set():
            await real_refresh(call_id, token)
            return
        refreshing.set()
        try:
            await asyncio.Event().wait()  # until the call's end cancels it
        except asyncio.CancelledError:
            pass  # swallowed, as asyncio.wait_for in Python 3.11 may

    monkeypatch.setattr(registry, "refresh", refresh_swallowing_cancellation)
    call_id = "inproc-swallowed-cancel"
    ws = await open_call(url, call_id)
    async with asyncio.timeout(5):
        await refreshing.wait()  # the refresher is inside its refresh when the call ends
    await ws.send(CALL_TERMINATED)
    assert (await expect_close(ws))[0] == 1000
    async with asyncio.timeout(5):
        await closed_event(call_id).wait()
    assert registry.active_calls == 0


async def test_an_orchestrator_that_ignores_its_cancellation_is_closed_all_the_same(
    served_app: tuple[FastAPI, str],
) -> None:
    """The call's end (here the drain's) cancels the orchestrator's run; a run that swallows it
    must not keep the call open: after CALL_API_ORCHESTRATOR_CLOSE_TIMEOUT the call ends and the
    orchestrator is closed (its media session with it)."""
    app, url = served_app
    call_id = "inproc-ignores-cancel"
    ws = await open_call(url, call_id)
    await ws.send(mediasoup_request(1, "test.ignore_cancel"))
    while (await recv_json(ws))["event"] != "mediasoup_response":
        pass  # the greeting first
    app.state.registry.end_all(EndReason.SERVER_SHUTDOWN, "server shutting down")
    ended = await recv_json(ws)
    assert (ended["event"], ended["code"]) == ("call_ended", "server_shutdown")
    assert (await expect_close(ws))[0] == 1001
    async with asyncio.timeout(5):
        await closed_event(call_id).wait()
    assert app.state.registry.active_calls == 0
