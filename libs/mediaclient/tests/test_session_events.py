"""MediaSession against a small controller stand-in on loopback (real HTTP and WebSocket): the
events channel is parsed into typed media events, bot_leg_ready included, and a dropped channel
becomes a MediaFailure."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from voicebot_mediaclient import MediaClient
from voicebot_protocol.media import BotLegReady, CallerSpeech, MediaFailure, SessionInfo

FRAME = b"\x00\x01" * 320


@pytest.fixture
async def controller() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """POST /v1/sessions, DELETE, and an events WebSocket that sends a few frames and drops."""
    drop = asyncio.Event()

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        info = SessionInfo(call_id=body["call_id"], bot_producer_id="bot-producer")
        return web.json_response(info.model_dump(), status=201)

    async def delete(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(BotLegReady(transport_id="transport-1", consumer_id="consumer-1").to_json())
        await ws.send_str('{"type": "no_such_event"}')  # logged and skipped
        await ws.send_bytes(FRAME)
        await ws.send_str(CallerSpeech(speaking=True, at_ms=12.5).to_json())
        await drop.wait()
        await ws.close()
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
    yield f"http://127.0.0.1:{port}", drop
    drop.set()
    await runner.cleanup()


async def test_media_events_are_typed_and_a_drop_is_a_media_failure(
    controller: tuple[str, asyncio.Event],
) -> None:
    url, drop = controller
    client = MediaClient(url)
    session = await client.open_session("call-1", "0" * 32)
    try:
        assert session.bot_producer_id == "bot-producer"
        events = aiter(session.events())
        async with asyncio.timeout(5):
            assert await anext(events) == BotLegReady(transport_id="transport-1", consumer_id="consumer-1")
            assert await anext(events) == CallerSpeech(speaking=True, at_ms=12.5)
            assert await anext(aiter(session.caller_audio())) == FRAME
            drop.set()
            failure = await anext(events)
            assert isinstance(failure, MediaFailure)
            with pytest.raises(StopAsyncIteration):
                await anext(events)
    finally:
        await session.close()
        await client.aclose()


async def test_a_client_opens_more_sessions_than_aiohttp_pools_by_default(
    controller: tuple[str, asyncio.Event],
) -> None:
    """Each session holds its events WebSocket for the whole call: the 101st (aiohttp's default
    pool is 100 connections) still opens, within a short request timeout."""
    url, _ = controller
    client = MediaClient(url, request_timeout=3.0, open_attempts=1)
    sessions = []
    try:
        for n in range(120):
            sessions.append(await client.open_session(f"call-{n}", "0" * 32))
        assert len(sessions) == 120
    finally:
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)
        await client.aclose()
