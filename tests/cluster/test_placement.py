"""call-api's choice of a controller (call_api.orchestrator.media_placement) against a real Redis
holding registry records, and with Redis down (the configured controllers, in turn)."""

from collections.abc import Iterator

import pytest
import redis
from call_api.orchestrator.media_placement import MediaPlacement
from call_api.settings import MediaSettings
from voicebot_mediaclient import MediaCapacity, MediaClient
from voicebot_protocol.media_registry import REGISTRY_INDEX, ControllerRecord, registry_key
from voicebot_stack.procs import free_port
from voicebot_stack.redis import RedisServer

STATIC = "http://10.0.0.1:8100,http://10.0.0.2:8100"


def record(name: str, sessions: int, capacity: int = 10, draining: bool = False) -> ControllerRecord:
    return ControllerRecord(
        controller_id=name,
        url=f"http://{name}:8100",
        capacity=capacity,
        sessions=sessions,
        draining=draining,
        heartbeat_seconds=2.0,
    )


@pytest.fixture
def registry(fresh_registry: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(fresh_registry.url)
    yield client
    client.close()


def publish(client: redis.Redis, *records: ControllerRecord) -> None:
    for r in records:
        client.set(registry_key(r.controller_id), r.to_json(), px=60_000)
        client.sadd(REGISTRY_INDEX, r.controller_id)


def placement(redis_url: str) -> MediaPlacement:
    settings = MediaSettings(media_discovery="registry", media_controller_url=STATIC)
    return MediaPlacement(settings, redis_url)


async def test_least_loaded_first_and_never_a_full_or_draining_one(
    registry: redis.Redis, fresh_registry: RedisServer
) -> None:
    publish(
        registry,
        record("busy", 7),
        record("idle", 1),
        record("full", 10),
        record("leaving", 0, draining=True),
        record("small", 1, capacity=2),  # half full: after "idle" (1/10)
    )
    registry.sadd(REGISTRY_INDEX, "expired")  # its record is gone: dropped from the index
    chooser = placement(fresh_registry.url)
    try:
        assert await chooser.candidates() == ["http://idle:8100", "http://small:8100", "http://busy:8100"]
        assert not registry.sismember(REGISTRY_INDEX, "expired")
    finally:
        await chooser.aclose()


async def test_an_empty_or_full_registry_refuses_with_capacity(
    registry: redis.Redis, fresh_registry: RedisServer
) -> None:
    chooser = placement(fresh_registry.url)
    client = MediaClient("http://127.0.0.1:9")
    try:
        with pytest.raises(MediaCapacity):
            await chooser.open_session(client, "c1", "0" * 32, "opus")
        publish(registry, record("full", 3, capacity=3), record("leaving", 0, draining=True))
        with pytest.raises(MediaCapacity):
            await chooser.open_session(client, "c2", "0" * 32, "opus")
    finally:
        await chooser.aclose()
        await client.aclose()


async def test_redis_down_means_the_configured_controllers_in_turn() -> None:
    chooser = placement(f"redis://127.0.0.1:{free_port()}/0")
    try:
        first, second = await chooser.candidates(), await chooser.candidates()
        assert sorted(first) == sorted(second) == sorted(STATIC.split(","))
        assert first != second  # the next call starts at the next controller
    finally:
        await chooser.aclose()
