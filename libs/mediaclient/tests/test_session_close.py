"""MediaSession.close against a controller stand-in on loopback (real HTTP and WebSocket): the
session is deleted on the controller even when the first DELETE fails, and even when whoever
called close is cancelled meanwhile (a call's end cut short must not leave the media open)."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from voicebot_mediaclient import MediaClient
from voicebot_protocol.media import MediaApiError, SessionInfo


@dataclass
class Controller:
    url: str = ""
    sessions: set[str] = field(default_factory=set)
    deletes: int = 0
    failing_deletes: int = 1  # answered 503 media_unavailable before one succeeds
    first_delete_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    answer_first_delete: asyncio.Event = field(default_factory=asyncio.Event)
    deleted: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def controller() -> AsyncIterator[Controller]:
    state = Controller()

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        state.sessions.add(body["call_id"])
        info = SessionInfo(call_id=body["call_id"], bot_producer_id="bot-producer")
        return web.json_response(info.model_dump(), status=201)

    async def delete(request: web.Request) -> web.Response:
        state.deletes += 1
        if state.deletes == 1:
            state.first_delete_arrived.set()
            await state.answer_first_delete.wait()
        if state.deletes <= state.failing_deletes:
            error = MediaApiError(code="media_unavailable", message="mediasoup service busy")
            return web.json_response(error.model_dump(), status=503)
        state.sessions.discard(request.match_info["call_id"])
        state.deleted.set()
        return web.Response(status=204)

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:  # until the client closes it
            pass
        return ws

    app = web.Application()
    app.router.add_post("/v1/sessions", create)
    app.router.add_delete("/v1/sessions/{call_id}", delete)
    app.router.add_get("/v1/sessions/{call_id}/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    state.answer_first_delete.set()
    await runner.cleanup()


async def test_a_failed_delete_is_retried(controller: Controller) -> None:
    controller.answer_first_delete.set()
    client = MediaClient(controller.url)
    try:
        session = await client.open_session("call-1", "0" * 32)
        assert controller.sessions == {"call-1"}
        async with asyncio.timeout(10):
            await session.close()
            await session.close()  # idempotent: no second DELETE
        assert controller.sessions == set()
        assert controller.deletes == 2  # the 503, then the retry
    finally:
        await client.aclose()


async def test_the_session_is_deleted_even_if_the_closer_is_cancelled(controller: Controller) -> None:
    client = MediaClient(controller.url)
    try:
        session = await client.open_session("call-2", "0" * 32)
        closer = asyncio.create_task(session.close())
        async with asyncio.timeout(10):
            await controller.first_delete_arrived.wait()
        closer.cancel()  # e.g. the call's close timeout, or its task cancelled at shutdown
        controller.answer_first_delete.set()
        async with asyncio.timeout(10):
            await controller.deleted.wait()  # only a close that went on retries the failed DELETE
        assert controller.sessions == set()
        with pytest.raises(asyncio.CancelledError):
            await closer
    finally:
        await client.aclose()
