"""A controller keeps serving while Redis is down, registers once it is back, and its record
follows its sessions."""

import asyncio
from pathlib import Path

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
