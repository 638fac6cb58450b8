"""A controller keeps serving while Redis is down, registers once it is back, and its record
follows its sessions; a call is pinned to the controller's own address."""

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web
from voicebot_mediaclient import MediaClient
from voicebot_stack.redis import RedisServer

from tests.cluster.nodes import records, start_node, wait_record


async def test_serves_without_redis_and_registers_when_it_is_back(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "late-redis")  # its port and password, not started yet
    node = await asyncio.to_thread(start_node, tmp_path, "node-late", server.url)
    client = MediaClient(node.url, secret=node.media.api_secret)
    try:
        session = await client.open_session("before-redis", "1" * 32)  # served, unregistered
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(
            wait_record,
            server,
            "node-late",
            "the record, counting the open session",
            lambda r: r is not None and r.sessions == 1 and not r.draining,
        )
        (found,) = records(server).values()
        assert (found.url, found.capacity) == (node.url, 50)
        await session.close()
        await asyncio.to_thread(
            wait_record,
            server,
            "node-late",
            "the record, with no session",
            lambda r: r is not None and r.sessions == 0,
        )
        await asyncio.to_thread(server.stop)
        again = await client.open_session("after-redis", "2" * 32)  # Redis gone again: still served
        await again.close()
    finally:
        await client.aclose()
        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(server.stop)


async def test_a_call_is_pinned_to_the_address_its_controller_answers_with(
    tmp_path: Path, fresh_registry: RedisServer
) -> None:
    """The session is created through a front address (here a relay that only forwards the create);
    the answer names the controller's own URL, and every later request goes there, never to the
    front."""
    node = await asyncio.to_thread(start_node, tmp_path, "node-pinned", fresh_registry.url)
    seen_by_front: list[str] = []
    http = aiohttp.ClientSession()

    async def relay_create(request: web.Request) -> web.Response:
        seen_by_front.append(f"{request.method} {request.path}")
        async with http.post(
            f"{node.url}/v1/sessions", data=await request.read(), headers=dict(request.headers)
        ) as answer:
            return web.Response(
                body=await answer.read(), status=answer.status, content_type="application/json"
            )

    async def refuse(request: web.Request) -> web.Response:
        seen_by_front.append(f"{request.method} {request.path}")
        return web.Response(status=500)

    front = web.Application()
    front.router.add_post("/v1/sessions", relay_create)
    front.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(front)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    front_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    client = MediaClient(front_url, secret=node.media.api_secret)
    try:
        session = await client.open_session("pinned", "4" * 32)
        assert session.base_url == node.url
        created = await session.signal("createPlainTransport", {"comedia": False})
        assert created["transport_id"]
        assert (await session.stats())["transports"]
        await session.close()
        assert seen_by_front == ["POST /v1/sessions"]
        assert "pinned" not in node.call_ids()  # the close reached the controller too
    finally:
        await client.aclose()
        await http.close()
        await runner.cleanup()
        await asyncio.to_thread(node.stop)
