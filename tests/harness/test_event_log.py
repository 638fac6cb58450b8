"""callsim's timestamped event stream (the one the tests' and the bench's waits use)."""

import asyncio
import time

import pytest
from voicebot_callsim.events import Arrival, EventLog, collect


async def test_wait_returns_the_first_match_from_an_index_with_its_arrival_time() -> None:
    log: EventLog[Arrival[str]] = EventLog(Arrival)
    before = time.monotonic()
    log.add("a")
    log.add("b")
    assert (await log.wait(lambda e: e.event in ("a", "b"), 1)).event == "a"
    found = await log.wait(lambda e: e.event in ("a", "b"), 1, since=1)
    assert found.event == "b" and before <= found.at <= time.monotonic()
    assert list(log) == [log[0], found] and len(log) == 2


async def test_wait_wakes_on_a_later_event() -> None:
    log: EventLog[Arrival[int]] = EventLog(Arrival)
    waiting = asyncio.create_task(log.wait(lambda e: e.event == 3, 2))
    for n in range(4):
        await asyncio.sleep(0)
        log.add(n)
    assert (await waiting).event == 3


async def test_wait_times_out_and_an_ended_stream_raises() -> None:
    log: EventLog[Arrival[int]] = EventLog(Arrival)
    log.add(1)
    with pytest.raises(TimeoutError):
        await log.wait(lambda e: e.event == 2, 0.05)
    log.close("the call closed")
    with pytest.raises(ConnectionError, match="the call closed"):
        await log.wait(lambda e: e.event == 2, 1)
    assert (await log.wait(lambda e: e.event == 1, 1)).event == 1  # what came still counts


async def test_collect_feeds_a_source_and_closes_when_it_ends() -> None:
    async def source():  # type: ignore[no-untyped-def]
        yield "x"
        yield "y"

    log: EventLog[Arrival[str]] = EventLog(Arrival)
    await collect(source(), log, "done")
    assert [a.event for a in log] == ["x", "y"] and log.closed
