"""The Redis row: the cache unavailable → every RedisCacheManager method returns None, the system
keeps working, slower (degraded), and the cache works again once Redis is back."""

import asyncio
import statistics
import time

import pytest
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import GatewayCall

from tests.chaos.harness import RATE, ChaosStack, ended, live_calls, utc_now
from tests.chaos.report import Row

CALLS = 3
SPEECH = speech_pcm("yes please", RATE)
SPEECH_S = len(SPEECH) / 2 / RATE
DEGRADED = "redis unavailable; cache degraded"
RECOVERED = "redis recovered; cache back"


async def _turn(call: GatewayCall) -> float:
    """The caller speaks and the bot replies; seconds from the end of the caller's speech to the
    reply's play_audio (its first audio)."""
    mark = len(call.events)
    onset = await call.say(SPEECH, RATE)
    playing = await call.wait_event("play_audio", 15, mark)
    await call.wait_event("transcript", 15, mark, role="bot")
    return playing.at - onset - SPEECH_S


async def _turns(calls: list[GatewayCall]) -> list[float]:
    return list(await asyncio.gather(*(_turn(c) for c in calls)))


@pytest.mark.parametrize("outage", [5.0, pytest.param(30.0, marks=pytest.mark.chaos_full)])
async def test_redis_outage_under_load(stack: ChaosStack, row: Row, outage: float) -> None:
    row.fault = f"Redis stopped for {outage:g}s under {CALLS} live dialog calls"
    row.promise = "no call fails; degraded mode (WARNING); cache works again after Redis returns"
    async with live_calls(stack, CALLS, "redis-") as calls:
        stack.new_reply()
        before = await _turns(calls)

        stopped = utc_now()
        stack.redis.stop()
        down_at = time.monotonic()
        during: list[float] = []
        new_calls = 0
        try:
            # The outage lasts `outage` seconds of real work: dialog turns on every call, and a new
            # call accepted and greeted each round (its claim falls back to the worker's table).
            while time.monotonic() - down_at < outage:
                stack.new_reply()
                async with live_calls(stack, 1, "redis-during-"):
                    new_calls += 1
                during += await _turns(calls)
            # Waited for while Redis is still down (the line may still be in the log pipe).
            degraded = await stack.wait_records(DEGRADED, None, "WARNING", since=stopped)
        finally:
            restarted = utc_now()  # no cache client can recover before this
            stack.restart_redis()
        up_at = time.monotonic()
        assert not any(ended(c) for c in calls), [ended(c) for c in calls]

        # After: a reply never said before is synthesized and lands in the fresh (empty) Redis.
        keys: list[bytes] = []
        after: list[float] = []
        while not keys:
            assert time.monotonic() - up_at < 20, "no TTS cache key written after Redis came back"
            stack.new_reply()
            after += await _turns(calls)
            keys = stack.tts_keys()
        cache_back_s = time.monotonic() - up_at
        recovered = await stack.wait_records(RECOVERED, None, "WARNING", since=restarted)
    assert degraded, "no degraded WARNING logged"
    assert recovered
    assert not any(ended(c) for c in calls)
    row.measure(
        f"0/{CALLS + new_calls} calls failed; {len(during)} dialog turns and {new_calls} new calls "
        "during the outage"
    )
    row.measure(
        "reply latency (end of speech → play_audio), median: "
        f"before {statistics.median(before):.2f}s, during {statistics.median(during):.2f}s, "
        f"after {statistics.median(after):.2f}s"
    )
    row.measure(
        f"WARNING 'cache degraded' ×{len(degraded)} (one per cache client that noticed), "
        f"'recovered' ×{len(recovered)}; "
        f"a TTS cache key in Redis {cache_back_s:.1f}s after it came back"
    )
