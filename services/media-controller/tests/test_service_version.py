"""The service link refuses a mediasoup service that answers session.open with another internal
protocol version (a fake service speaking the real envelope on 127.0.0.1; no stack needed)."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from media_controller.errors import ServiceRequestFailed
from media_controller.service import MediasoupService
from voicebot_protocol.media_service import INTERNAL_PROTOCOL_VERSION

from tests.support.procs import free_port

OPENED = {"router_id": "r1", "rtp_capabilities": {"codecs": []}, "worker_pid": 7}


async def fake_service(answer: dict[str, Any]) -> tuple[web.AppRunner, str]:
    """Answers every session.open with `answer`."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                frame = json.loads(message.data)
                await ws.send_str(json.dumps({"id": frame["id"], "ok": True, "data": answer}))
        return ws

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"ws://127.0.0.1:{port}/"


@pytest.fixture
async def link() -> AsyncIterator[Callable[[dict[str, Any]], Any]]:
    opened: list[tuple[web.AppRunner, MediasoupService]] = []

    async def connect(answer: dict[str, Any]) -> MediasoupService:
        runner, url = await fake_service(answer)
        service = MediasoupService(url, "secret", on_notification=lambda _: None, on_down=lambda _: None)
        opened.append((runner, service))
        await service.start()
        async with asyncio.timeout(5):
            await service._connected.wait()
        return service

    yield connect
    for runner, service in opened:
        await service.close()
        await runner.cleanup()


async def test_a_service_of_this_version_opens(link: Callable[[dict[str, Any]], Any]) -> None:
    service = await link({**OPENED, "protocol_version": INTERNAL_PROTOCOL_VERSION})
    data = await service.request("session.open", {"call_id": "c1"})
    assert data["router_id"] == "r1"


async def test_a_service_of_another_version_is_refused(link: Callable[[dict[str, Any]], Any]) -> None:
    service = await link({**OPENED, "protocol_version": INTERNAL_PROTOCOL_VERSION + 1})
    with pytest.raises(ServiceRequestFailed) as refused:
        await service.request("session.open", {"call_id": "c1"})
    assert refused.value.service_code == "protocol_mismatch"
    assert (refused.value.code, refused.value.status) == ("media_error", 502)
    assert f"version {INTERNAL_PROTOCOL_VERSION + 1}" in refused.value.message


async def test_a_service_that_answers_no_version_is_refused(link: Callable[[dict[str, Any]], Any]) -> None:
    service = await link(OPENED)
    with pytest.raises(ServiceRequestFailed, match="protocol_version"):
        await service.request("session.open", {"call_id": "c1"})


async def test_other_methods_are_not_checked(link: Callable[[dict[str, Any]], Any]) -> None:
    service = await link({"anything": 1})
    assert await service.request("stats", {}) == {"anything": 1}
