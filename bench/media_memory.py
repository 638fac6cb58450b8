"""media.memory: a burst of media sessions with audio both ways on one media-controller and one
mediasoup worker, and the RSS of both before, during and after (the media plane alone: what
soak.memory's full calls cost the controller, without call-api's share of the host's CPU).

A call (voicebot_callsim.talk_over): the gateway's two legs and its uplink (silence), then the bot
plays a prompt and the caller talks over it until the controller reports the barge-in (the tap
decodes, the VAD and Silero judge, the bot's audio is encoded and paced), then the call ends.
Warm-up: WARMUP_CALLS such calls, then the RSS once it stopped falling. A burst: CALLS sessions
opened (OPENING at a time) and held with only the caller's silence flowing (idle), then every
caller talks over the bot at once (peak, sampled), then every call ends (after: once the RSS
stopped falling; the controller trims its heap a few seconds after its last call).
- per idle call: (RSS with the burst's sessions idle − warm) / CALLS;
- per active call: (peak RSS while they talk − warm) / CALLS;
- after vs warm in %; each call's barge-in latency as the controller reports it (detected_ms −
  onset_ms: a sign of how loaded the burst left it), and how many of the calls opened had theirs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from voicebot_callsim.talk_over import TalkingCall
from voicebot_mediaclient import MediaClient
from voicebot_stack.procstat import rss_mb

from bench import audio
from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result, simple_table
from bench.soak import rss_row, settled_rss
from bench.stack import media_stack

CALLS = (100, 30)  # full, --quick
WARMUP_CALLS = 4
OPENING = 4
IDLE_HOLD_S = 3.0
SAMPLE_EVERY_S = 0.5
BARGE_IN_TIMEOUT_S = 60.0
CALLER_TEXT = "Wait, stop, I have a question."
BOT_TEXT = "Let me read you the full terms and conditions of your contract. "
PROCESSES = ("controller", "mediasoup_worker")
TABLE_KEYS = ["process", "calls", "warm", "idle", "idle_per_call", "peak", "active_per_call"]
TABLE_KEYS += ["after", "after_vs_warm_pct", "settled_s"]


async def open_call(client: MediaClient, opening: asyncio.Semaphore, number: int) -> TalkingCall:
    async with opening:
        session = await client.open_session(f"bench-mem-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        try:
            return await TalkingCall.open(session, caller_ssrc=0x5EED_0000 + number)
        except BaseException:
            await session.close()
            raise


async def burst(client: MediaClient, calls: int) -> tuple[list[TalkingCall], list[str]]:
    opening = asyncio.Semaphore(OPENING)
    opened = await asyncio.gather(
        *(open_call(client, opening, n) for n in range(calls)), return_exceptions=True
    )
    failed = [f"open: {type(e).__name__}: {e}" for e in opened if isinstance(e, BaseException)]
    return [c for c in opened if isinstance(c, TalkingCall)], failed


async def talk(calls: list[TalkingCall], latencies: list[float]) -> list[str]:
    """Every caller talks over the bot at once; the calls then end. The failures."""
    bot_pcm, caller_packets = audio.speech(BOT_TEXT * 2), list(audio.packets(CALLER_TEXT))

    async def one(call: TalkingCall) -> None:
        detected = await call.talk_over_the_bot(bot_pcm, audio.RATE, caller_packets, BARGE_IN_TIMEOUT_S)
        latencies.append(detected.detected_ms - detected.onset_ms)

    outcomes = await asyncio.gather(*(one(call) for call in calls), return_exceptions=True)
    await asyncio.gather(*(call.close() for call in calls), return_exceptions=True)
    return [f"talk: {type(e).__name__}: {e}" for e in outcomes if isinstance(e, BaseException)]


@scenario(
    "media.memory", "a burst of media sessions with audio both ways: MB per idle/active call, RSS after"
)
async def media_memory(ctx: BenchContext) -> Result:
    calls_wanted = ctx.options.pick(*CALLS)
    result = Result(info={"calls": calls_wanted, "warmup_calls": WARMUP_CALLS})
    latency = result.figure("barge_in_onset_to_detected")
    started = time.perf_counter()
    with media_stack(ctx.scratch("media-memory")) as media:
        client = MediaClient(media.controller_url, secret=media.api_secret, request_timeout=30.0)
        try:

            def read() -> dict[str, float]:
                return rss_mb({"controller": [media.controller.pid], "mediasoup_worker": media.worker_pids()})

            cold = read()
            warm_up, failed = await burst(client, WARMUP_CALLS)
            failed += await talk(warm_up, [])
            warm = await settled_rss(read, "controller")
            calls, opened_failed = await burst(client, calls_wanted)
            await asyncio.sleep(IDLE_HOLD_S)  # the sessions idle together: the silence flowing in
            idle = read()
            peak = dict(idle)
            samples: list[float] = []
            talking = asyncio.ensure_future(talk(calls, samples))
            while not talking.done():
                await asyncio.wait({talking}, timeout=SAMPLE_EVERY_S)
                peak = {name: max(peak[name], value) for name, value in read().items()}
            ended = time.monotonic()
            after = await settled_rss(read, "controller")
            settled_s = round(time.monotonic() - ended, 1)
            result.fail_all(failed + opened_failed + talking.result())
        finally:
            await client.aclose()
    for sample in samples:
        latency.add(sample)
    # A barge-in missed (the talk timed out) is a failure too; the counts make a run's misses plain.
    result.set_value("barge_ins_detected", len(samples), "calls", f"{len(calls)} (every call opened)")
    rows: list[list[Any]] = []
    for name in PROCESSES:
        rows.append([*rss_row(name, len(calls), warm[name], idle[name], peak[name], after[name]), settled_s])
        goals = ("≤ 2 MB", "≤ 10 %") if name == "controller" else (None, None)
        result.set_value(f"{name}_mb_per_idle_call", rows[-1][4], "MB", goals[0])
        result.set_value(f"{name}_mb_per_active_call", rows[-1][6], "MB")
        result.set_value(f"{name}_after_vs_warm_pct", rows[-1][8], "%", goals[1])
    result.wall_s = time.perf_counter() - started
    result.info.update(
        rss_mb_cold=cold, rss_mb_warm_idle=warm, table=[dict(zip(TABLE_KEYS, r, strict=True)) for r in rows]
    )
    header = ["process", "calls", "warm idle MB", "idle with calls MB", "MB / idle call", "peak MB"]
    header += ["MB / active call", "after MB", "after vs warm %", "settled after s"]
    result.tables.append(simple_table(header, rows))
    return result
