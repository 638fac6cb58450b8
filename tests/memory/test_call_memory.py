"""Memory per call in a call-api worker, on the real embedded STT (pocketsphinx listening with the
dialog's grammar): calls held idle together cost ≤ 2 MB each beyond what the process shares, and
once they ended the worker's RSS is back within 10 % of its warm idle value (docs/architecture.md,
"Memory"). Before: each listening call held a 27 MB decoder, and a burst's freed decoders stayed
in the worker's heap.

`make test` runs CALLS calls with espeak-ng as the TTS (cheap: the test stays short);
VOICEBOT_MEMORY_SOAK=1 runs the heavy variant, Piper and 100 calls (`make bench`'s soak.memory
measures that one too)."""

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import GatewayCall
from voicebot_callsim.rtp import opus_packets
from voicebot_stack.procstat import rss_kb
from voicebot_tracing.heap import TRIM_DELAY_SECONDS

from tests.support.fullstack import FullStack, start_full_stack

HEAVY = os.environ.get("VOICEBOT_MEMORY_SOAK") == "1"
CALLS = 100 if HEAVY else 12
OPENING = 4  # calls being opened at once (each until its greeting)
WARMUP_ROUNDS = 2
MB_PER_IDLE_CALL = 2.0
RSS_AFTER_VS_WARM = 1.10
SETTLE_TIMEOUT = 60.0
REPLY_TIMEOUT = 150.0  # ≥ the silence timeout below: undetected speech still gets a reprompt


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    # A silent caller is reprompted every silence_timeout and the scenario hangs up after a few:
    # the first calls would end before the last ones are open.
    env = {"CALL_API_SILENCE_TIMEOUT": "120"}
    if not HEAVY:
        env["CALL_API_TTS_PROVIDER"] = "espeak"
    running = start_full_stack(Path(tmp_path_factory.mktemp("memory")), call_api_env=env, workers=1)
    yield running
    running.stop()


def worker_rss_mb(stack: FullStack) -> float:
    (pid,) = stack.call_api.worker_pids()
    return (rss_kb(pid) or 0) / 1024


async def settled_rss_mb(stack: FullStack) -> float:
    """The worker's RSS once it stopped falling: two readings, further apart than the heap trim's
    delay (voicebot_tracing/heap.py), within 1 MB."""
    last = worker_rss_mb(stack)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        await asyncio.sleep(TRIM_DELAY_SECONDS + 1.0)
        now = worker_rss_mb(stack)
        if now >= last - 1.0:
            return now
        last = now
    return last


async def rss_within(stack: FullStack, bound_mb: float) -> float:
    """The worker's RSS as soon as it is ≤ bound_mb, or the last reading at the timeout."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    now = worker_rss_mb(stack)
    while now > bound_mb:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
        now = worker_rss_mb(stack)
    return now


async def open_call(stack: FullStack, opening: asyncio.Semaphore) -> GatewayCall:
    async with opening:
        call = GatewayCall(stack.call_api.ws_url, f"mem-{uuid.uuid4().hex[:10]}", {"contact_name": "Ann"})
        await call.start(open_timeout=30)
        await call.setup_media()
        await call.wait_event("transcript", 60, role="bot")  # the greeting: the bot then listens
        return call


async def end_call(call: GatewayCall, packets: list[bytes]) -> None:
    """The caller declines and the bot answers (goodbye, or a reprompt if it misheard on a loaded
    machine: either way STT took a decoder and gave it back); then the caller hangs up."""
    try:
        assert call.voice is not None
        since = len(call.events)
        await call.voice.say_packets(packets)
        with contextlib.suppress(ConnectionError):  # the bot said goodbye and ended the call first
            await call.wait_event("transcript", REPLY_TIMEOUT, since=since, role="bot")
    finally:
        await call.terminate()


async def burst(stack: FullStack, calls: int, packets: list[bytes]) -> list[GatewayCall]:
    opening = asyncio.Semaphore(OPENING)
    return list(await asyncio.gather(*(open_call(stack, opening) for _ in range(calls))))


async def test_idle_calls_cost_little_and_the_worker_returns_to_its_warm_rss(stack: FullStack) -> None:
    packets = opus_packets(speech_pcm("no thank you", 16000), 16000)
    for _ in range(WARMUP_ROUNDS):  # models, decoders, caches and thread pools: all made once
        warm_up = await burst(stack, OPENING, packets)
        await asyncio.gather(*(end_call(call, packets) for call in warm_up))
    warm = await settled_rss_mb(stack)

    calls = await burst(stack, CALLS, packets)
    idle = worker_rss_mb(stack)
    await asyncio.gather(*(end_call(call, packets) for call in calls))
    after = await rss_within(stack, warm * RSS_AFTER_VS_WARM)

    print(f"\nworker RSS: warm {warm:.1f} MB, {CALLS} idle calls {idle:.1f} MB, after {after:.1f} MB")
    assert (idle - warm) / CALLS <= MB_PER_IDLE_CALL, (warm, idle)
    assert after <= warm * RSS_AFTER_VS_WARM, (warm, after)
