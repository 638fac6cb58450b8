"""A worker whose last call ended collects its garbage before the heap trim
(voicebot_tracing/heap.py): a burst's reference cycles would otherwise hold their memory until the
oldest generation's rare collection; the providers' own idle releases (Piper's arena) run just
before that trim. A call that started meanwhile is not made to wait for either."""

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import cast

import pytest
from call_api.cache import RedisCacheManager
from call_api.registry import CallRegistry
from voicebot_protocol import EndReason
from voicebot_tracing import heap

WAIT = 30.0  # only matters when something is broken


class NoRedis:
    """Redis unreachable: the registry claims calls in this process only."""

    async def set_if_absent(self, key: str, value: bytes | str, ttl: float) -> bool | None:
        return None

    async def delete_if_value(self, key: str, value: bytes | str) -> bool | None:
        return None


class Call:
    def request_end(self, reason: EndReason, message: str) -> None:
        pass


class Cycle:
    """Garbage only a collection frees: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def count_trims(monkeypatch: pytest.MonkeyPatch, order: list[str]) -> asyncio.Queue[None]:
    """One item per heap trim that ran (call it on the test's event loop); `order` gets "release"
    when the providers' idle release ran and "trim" when the trim did."""
    done: asyncio.Queue[None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def trim_now() -> bool:
        order.append("trim")
        loop.call_soon_threadsafe(done.put_nowait, None)
        return False

    monkeypatch.setattr(heap, "trim_now", trim_now)
    monkeypatch.setattr(heap, "_idle_releases", [lambda: order.append("release")])
    return done


def registry() -> CallRegistry:
    return CallRegistry(cast(RedisCacheManager, NoRedis()), ttl_seconds=30, instance="test")


def garbage_cycle() -> "weakref.ref[Cycle]":
    return weakref.ref(Cycle())


async def test_the_last_call_ending_collects_garbage_before_the_trim(
    no_automatic_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    trims = count_trims(monkeypatch, order)
    calls = registry()
    first, second = calls.new_token(), calls.new_token()
    assert await calls.claim("c1", Call(), first)
    assert await calls.claim("c2", Call(), second)
    await calls.release("c1", first)
    cycle = garbage_cycle()
    await calls.release("c2", second)  # the worker is idle now

    await asyncio.wait_for(trims.get(), WAIT)
    assert cycle() is None
    assert order == ["release", "trim"]


async def test_a_call_that_started_before_the_trim_skips_the_collection(
    no_automatic_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    trims = count_trims(monkeypatch, order)
    calls = registry()
    token = calls.new_token()
    assert await calls.claim("c1", Call(), token)
    cycle = garbage_cycle()
    await calls.release("c1", token)
    assert await calls.claim("c2", Call(), calls.new_token())  # a new call before the trim is due

    await asyncio.wait_for(trims.get(), WAIT)
    assert cycle() is not None
    assert order == ["trim"]
