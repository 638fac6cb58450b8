"""RedisCacheManager against a real redis-server that is stopped and restarted mid-test."""

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from call_api.cache import RedisCacheManager
from call_api.registry import CallRegistry, active_call_key
from voicebot_protocol import EndReason

from tests.support.procs import free_port
from tests.support.redis import RedisServer


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


async def exercise(cache: RedisCacheManager) -> list[object]:
    """One call of every method; returns their results."""
    return [
        await cache.set_bytes("k:bytes", b"\x00\x01", ttl=30),
        await cache.get_bytes("k:bytes"),
        await cache.set_json("k:json", {"a": [1, 2]}, ttl=30),
        await cache.get_json("k:json"),
        await cache.set_if_absent("k:nx", "v", ttl=30),
        await cache.expire("k:nx", 60),
        await cache.delete_if_value("k:nx", "v"),
        await cache.delete("k:bytes"),
        await cache.ping(),
    ]


async def test_every_method_works(own_redis: RedisServer) -> None:
    cache = RedisCacheManager(own_redis.url)
    try:
        assert await exercise(cache) == [True, b"\x00\x01", True, {"a": [1, 2]}, True, True, True, True, True]
        assert await cache.set_if_absent("k:nx2", "first", ttl=30) is True
        assert await cache.set_if_absent("k:nx2", "second", ttl=30) is False
        assert await cache.delete_if_value("k:nx2", "second") is False  # not the owner: kept
        assert await cache.get_bytes("k:nx2") == b"first"
        assert await cache.expire("k:missing", 10) is False
        assert await cache.get_bytes("k:missing") is None
        assert await cache.set_bytes("k:short", "x", ttl=0.05) is True
        deadline = time.monotonic() + 2
        while await cache.get_bytes("k:short") is not None:
            assert time.monotonic() < deadline, "TTL not applied"
        assert not cache.degraded
    finally:
        await cache.aclose()


async def test_redis_down_every_method_returns_none_fast_then_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCacheManager(own_redis.url, breaker_seconds=0.3)
    try:
        assert await cache.ping() is True
        own_redis.stop()
        with caplog.at_level(logging.WARNING, logger="call_api.cache"):
            for _ in range(3):
                started = time.monotonic()
                assert await exercise(cache) == [None, None, None, None, None, None, None, None, False]
                assert (
                    time.monotonic() - started < 2.0
                )  # refused connects + the breaker: no timeouts paid (9 × 0.3 s)
            assert cache.degraded
            # While the breaker is open Redis is not even tried.
            started = time.monotonic()
            for _ in range(1000):
                assert await cache.get_bytes("k") is None
            assert time.monotonic() - started < 0.5
            degraded_logs = [
                r for r in caplog.records if r.getMessage() == "redis unavailable; cache degraded"
            ]
            assert len(degraded_logs) == 1  # rate-limited: a dead Redis does not flood the log

            own_redis.start()  # same port
            deadline = time.monotonic() + 5
            while not await cache.ping():
                assert time.monotonic() < deadline, "cache did not reconnect"
                await asyncio.sleep(0.02)
            assert not cache.degraded
            assert await exercise(cache) == [
                True,
                b"\x00\x01",
                True,
                {"a": [1, 2]},
                True,
                True,
                True,
                True,
                True,
            ]
            assert [r.getMessage() for r in caplog.records].count("redis recovered; cache back") == 1
    finally:
        await cache.aclose()


async def test_unreachable_redis_never_raises() -> None:
    cache = RedisCacheManager(f"redis://127.0.0.1:{free_port()}/0")
    try:
        started = time.monotonic()
        assert await exercise(cache) == [None, None, None, None, None, None, None, None, False]
        assert time.monotonic() - started < 2.0
        assert cache.degraded
    finally:
        await cache.aclose()


async def test_redis_answering_errors_is_handled(own_redis: RedisServer) -> None:
    """A Redis that answers with errors (here: a read-only replica) counts as unavailable, not a crash."""
    cache = RedisCacheManager(own_redis.url)
    admin = RedisCacheManager(own_redis.url)
    try:
        # Make the server a replica of a dead master: writes get READONLY errors.
        await admin._client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        assert await cache.set_bytes("k", b"v") is None
        assert cache.degraded
        await admin._client.execute_command("REPLICAOF", "NO", "ONE")
    finally:
        await cache.aclose()
        await admin.aclose()


class FakeCall:
    def __init__(self) -> None:
        self.ended: tuple[EndReason, str] | None = None

    def request_end(self, reason: EndReason, message: str) -> None:
        self.ended = (reason, message)


async def test_call_claims_across_processes_and_degrade_to_this_process(own_redis: RedisServer) -> None:
    first = CallRegistry(RedisCacheManager(own_redis.url), ttl_seconds=30, instance="a")
    second = CallRegistry(RedisCacheManager(own_redis.url), ttl_seconds=30, instance="b")
    try:
        token = first.new_token()
        assert await first.claim("c1", FakeCall(), token)
        assert not await second.claim("c1", FakeCall(), second.new_token())  # another worker: Redis says no
        assert not await first.claim(
            "c1", FakeCall(), first.new_token()
        )  # same worker: the local table says no
        await first.release("c1", token)
        assert await first.cache.get_bytes(active_call_key("c1")) is None
        assert first.active_calls == 0

        own_redis.stop()
        local_token = first.new_token()
        assert await first.claim("c2", FakeCall(), local_token)  # Redis down: claimed locally
        assert not await first.claim("c2", FakeCall(), first.new_token())
        own_redis.start()
        first.cache._skip_until = 0  # do not wait out the breaker in the test
        await first.refresh("c2", local_token)  # the claim is re-created once Redis is back
        assert await first.cache.get_bytes(active_call_key("c2")) == local_token.encode()
        assert not await second.claim("c2", FakeCall(), second.new_token())
    finally:
        await first.cache.aclose()
        await second.cache.aclose()
