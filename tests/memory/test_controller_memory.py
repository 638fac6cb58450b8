"""Memory per call in the media-controller, with audio both ways (the gateway's uplink, the bot's
prompt, the caller talking over it: the tap decodes, the VAD and Silero judge, the bot's audio is
encoded): sessions held idle together cost ≤ 2 MB each beyond what the process shares, and once a
burst of calls closed the controller's RSS is back within 10 % of its warm idle value
(docs/architecture.md, "Memory"), also while another call stays open (the controller never idle).
Before: every session built its own 3 MB Silero detector, and a burst's freed detectors stayed in
the controller's heap (+3 MB per call of the burst, for good); the heap was trimmed only once no
call was left."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.rtp import opus_packets
from voicebot_callsim.talk_over import TalkingCall
from voicebot_mediaclient import MediaClient
from voicebot_stack.procstat import rss_kb
from voicebot_tracing.heap import TRIM_DELAY_SECONDS

from tests.support.media import MediaStack, mediasoup_worker_bin, start_media_stack

WARMUP_CALLS = 4  # as many as the controller keeps idle Silero detectors (silero_pool.py)
CALLS = 24
SILENT_CALLS = 60  # ≈ 0.4 MB each: together well over the bound
OPENING = 4  # sessions being opened at once
MB_PER_IDLE_CALL = 2.0
RSS_AFTER_VS_WARM = 1.10
SETTLE_TIMEOUT = 60.0
BARGE_IN_TIMEOUT = 60.0  # a loaded host: the caller's speech is seconds long anyway
RATE = 16000


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaStack]:
    if mediasoup_worker_bin() is None:
        pytest.fail("the mediasoup worker is not built: run `make setup`")
    stack = start_media_stack(Path(tmp_path_factory.mktemp("controller-memory")))
    yield stack
    stack.stop()


@pytest.fixture
async def client(media: MediaStack) -> AsyncIterator[MediaClient]:
    media_client = MediaClient(media.controller_url, secret=media.api_secret, request_timeout=30.0)
    yield media_client
    await media_client.aclose()


def controller_rss_mb(media: MediaStack) -> float:
    return (rss_kb(media.controller.pid) or 0) / 1024


async def settled_rss_mb(media: MediaStack) -> float:
    """The controller's RSS once it stopped falling: two readings, further apart than the heap
    trim's delay (voicebot_tracing/heap.py), within 1 MB."""
    last = controller_rss_mb(media)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        await asyncio.sleep(TRIM_DELAY_SECONDS + 1.0)
        now = controller_rss_mb(media)
        if now >= last - 1.0:
            return now
        last = now
    return last


async def rss_within(media: MediaStack, bound_mb: float) -> float:
    """The controller's RSS as soon as it is ≤ bound_mb, or the last reading at the timeout."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    now = controller_rss_mb(media)
    while now > bound_mb and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = controller_rss_mb(media)
    return now


async def open_call(client: MediaClient, opening: asyncio.Semaphore, number: int) -> TalkingCall:
    async with opening:
        session = await client.open_session(f"mem-ctl-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        try:
            return await TalkingCall.open(session, caller_ssrc=0x5EED_0000 + number)
        except BaseException:
            await session.close()
            raise


async def open_burst(client: MediaClient, calls: int) -> list[TalkingCall]:
    opening = asyncio.Semaphore(OPENING)
    return list(await asyncio.gather(*(open_call(client, opening, n) for n in range(calls))))


async def talk_and_end(calls: list[TalkingCall], bot_pcm: bytes, caller_packets: list[bytes]) -> None:
    try:
        await asyncio.gather(
            *(call.talk_over_the_bot(bot_pcm, RATE, caller_packets, BARGE_IN_TIMEOUT) for call in calls)
        )
    finally:
        await asyncio.gather(*(call.close() for call in calls))


async def test_idle_sessions_cost_little_and_the_controller_returns_to_its_warm_rss(
    media: MediaStack, client: MediaClient
) -> None:
    bot_pcm = speech_pcm("Let me read you the full terms and conditions of your contract.", RATE)
    caller_packets = opus_packets(speech_pcm("Wait, stop, I have a question.", RATE), RATE)
    # Warm-up: codecs, Silero's first detectors, the pools and caches of the process: made once.
    await talk_and_end(await open_burst(client, WARMUP_CALLS), bot_pcm, caller_packets)
    warm = await settled_rss_mb(media)

    calls = await open_burst(client, CALLS)  # open, the gateway's silence flowing in
    idle = controller_rss_mb(media)
    await talk_and_end(calls, bot_pcm, caller_packets)  # every caller talks over the bot at once
    after = await rss_within(media, warm * RSS_AFTER_VS_WARM)

    print(f"\ncontroller RSS: warm {warm:.1f} MB, {CALLS} idle sessions {idle:.1f} MB, after {after:.1f} MB")
    assert (idle - warm) / CALLS <= MB_PER_IDLE_CALL, (warm, idle)
    assert after <= warm * RSS_AFTER_VS_WARM, (warm, after)


async def test_a_burst_is_given_back_while_another_call_stays_open(
    media: MediaStack, client: MediaClient
) -> None:
    """The controller is never idle here (one long call): what each call frees goes back to the
    kernel as it closes, not only after the last one. The burst's callers stay silent (no Silero
    detector: the sessions' own memory)."""
    bot_pcm = speech_pcm("Let me read you the full terms and conditions of your contract.", RATE)
    caller_packets = opus_packets(speech_pcm("Wait, stop, I have a question.", RATE), RATE)
    (long_call,) = await open_burst(client, 1)
    try:
        await talk_and_end(await open_burst(client, WARMUP_CALLS), bot_pcm, caller_packets)
        warm = await settled_rss_mb(media)
        silent = await open_burst(client, SILENT_CALLS)
        await asyncio.gather(*(call.close() for call in silent))
        after = await rss_within(media, warm * RSS_AFTER_VS_WARM)
    finally:
        await long_call.close()

    print(f"\ncontroller RSS with a call open throughout: warm {warm:.1f} MB, after {after:.1f} MB")
    assert after <= warm * RSS_AFTER_VS_WARM, (warm, after)
