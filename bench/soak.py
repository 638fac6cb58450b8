"""soak.memory: bursts of CONCURRENT real calls at once (full stack, real Orchestrator, Piper TTS,
pocketsphinx STT); the RSS of the call-api workers, the media-controller and the mediasoup worker
before, during and after each burst.

A burst: CONCURRENT calls are opened (OPENING at a time, each until its greeting's transcript:
Piper synthesises a personal greeting per call, and opening them all at the same instant only
measures the TTS queue), then held idle together (the caller is silent: the bot listens), then
every caller says "no thank you" at once and the bot says goodbye and ends each call.
Warm-up first: rounds of WARMUP_CALLS calls until every call-api worker served some (models load
on first use). Bursts repeat until `--soak-seconds` are spent (at least one).
- per idle call: (RSS with the burst's calls idle − warm idle) / CONCURRENT;
- per active call: (peak RSS while they speak and end − warm idle) / CONCURRENT;
- after: RSS once the calls ended (the heap is trimmed a few seconds after a burst) vs warm idle;
- the latencies of each call: its start → the greeting's transcript, its caller's speech sent →
  the bot's reply (its transcript; then the caller hangs up)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from voicebot_callsim.call import GatewayCall
from voicebot_stack.procstat import rss_mb

from bench import audio
from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result, simple_table
from bench.stack import full_stack

CONCURRENT = 100
OPENING = 4  # calls being opened at once (until their greeting)
WORKERS = 2  # call-api gunicorn workers
WARMUP_CALLS = 4
WARMUP_ROUNDS = 6
CALLER_TEXT = "no thank you"
SAMPLE_EVERY_S = 0.5
REPLY_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 60.0  # after a burst: until the RSS stops falling
SETTLE_STEP_S = 5.0  # > twice call-api's heap trim delay (voicebot_tracing/heap.py)
IDLE_HOLD_S = 3.0
# A silent caller is reprompted every silence_timeout and the scenario hangs up after a few: the
# burst's first calls would end before its last ones are open.
IDLE_CALLS_ENV = {"CALL_API_SILENCE_TIMEOUT": "600"}
TABLE_KEYS = ["burst", "process", "calls", "warm", "idle", "idle_per_call", "peak", "active_per_call"]
TABLE_KEYS += [
    "after",
    "after_vs_warm_pct",
]  # the burst's calls stay idle together this long before the RSS is read


async def open_call(url: str, opening: asyncio.Semaphore, greeted_s: list[float]) -> GatewayCall:
    async with opening:
        call = GatewayCall(url, f"bench-soak-{uuid.uuid4().hex[:10]}", {"contact_name": "Ann"})
        started = time.perf_counter()
        try:
            await call.start(open_timeout=30)
            await call.setup_media()
            await call.wait_event("transcript", 60, role="bot")
        except BaseException:
            await call.terminate()
            raise
        greeted_s.append(time.perf_counter() - started)
        return call


async def end_call(call: GatewayCall, packets: list[bytes], replied_s: list[float]) -> None:
    """The caller declines; the bot answers (goodbye and the end of the call, or a reprompt when it
    misheard: either way STT took a decoder and gave it back); then the caller hangs up."""
    try:
        assert call.voice is not None
        since = len(call.events)
        await call.voice.say_packets(packets)
        said = time.perf_counter()
        with contextlib.suppress(ConnectionError):  # the bot said goodbye and ended the call first
            await call.wait_event("transcript", REPLY_TIMEOUT_S, since=since, role="bot")
        replied_s.append(time.perf_counter() - said)
    finally:
        await call.terminate()


async def settled_rss(read: Callable[[], dict[str, float]], name: str) -> dict[str, float]:
    """The RSS once `name`'s stopped falling (two readings SETTLE_STEP_S apart within 1 MB), or at
    the timeout."""
    last = read()
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_STEP_S)
        now = read()
        if now[name] >= last[name] - 1.0:
            return now
        last = now
    return last


def rss_row(name: str, calls: int, warm: float, idle: float, peak: float, after: float) -> list[Any]:
    """A process's RSS over a burst (MB): warm idle, with the calls idle (and per call), peak (and
    per call), after, and after vs warm in %."""
    n = max(1, calls)
    return [
        name,
        calls,
        warm,
        idle,
        round((idle - warm) / n, 2),
        peak,
        round((peak - warm) / n, 2),
        after,
        round(100 * (after - warm) / warm, 1),
    ]


@scenario("soak.memory", "bursts of 100 concurrent real calls: MB per idle/active call, RSS after vs warm")
async def soak(ctx: BenchContext) -> Result:
    seconds = ctx.options.soak_seconds
    result = Result(info={"seconds": seconds, "concurrent_calls": CONCURRENT, "call_api_workers": WORKERS})
    packets = list(audio.packets(CALLER_TEXT))
    greeted, replied = result.figure("call_start_to_greeting", "s"), result.figure("speech_to_bot_reply", "s")
    started = time.perf_counter()
    rows: list[list[Any]] = []
    with full_stack(ctx.scratch("soak"), workers=WORKERS, call_api_env=IDLE_CALLS_ENV) as stack:
        url = stack.call_api.ws_url

        def read() -> dict[str, float]:
            return rss_mb(
                {
                    "call_api_workers": stack.call_api.worker_pids(),
                    "controller": [stack.media.controller.pid],
                    "mediasoup_worker": stack.media.worker_pids(),
                }
            )

        cold = read()
        opening = asyncio.Semaphore(OPENING)
        for _ in range(WARMUP_ROUNDS):  # until every worker served calls (gunicorn picks the worker)
            calls = await asyncio.gather(
                *(open_call(url, opening, []) for _ in range(WARMUP_CALLS)), return_exceptions=True
            )
            await asyncio.gather(
                *(end_call(c, packets, []) for c in calls if isinstance(c, GatewayCall)),
                return_exceptions=True,
            )
            served = {r["pid"] for r in stack.call_api.log_records("call accepted")}
            if set(stack.call_api.worker_pids()) <= served:
                break
        warm = await settled_rss(read, "call_api_workers")
        until = time.monotonic() + seconds
        burst = 0
        while burst == 0 or time.monotonic() < until:
            burst += 1
            greeted_s: list[float] = []
            opened = await asyncio.gather(
                *(open_call(url, opening, greeted_s) for _ in range(CONCURRENT)), return_exceptions=True
            )
            calls = [c for c in opened if isinstance(c, GatewayCall)]
            result.fail_all(
                [f"open: {type(e).__name__}: {e}" for e in opened if isinstance(e, BaseException)]
            )
            await asyncio.sleep(IDLE_HOLD_S)
            idle = read()
            peak = dict(idle)
            replied_s: list[float] = []
            ending = asyncio.ensure_future(
                asyncio.gather(*(end_call(c, packets, replied_s) for c in calls), return_exceptions=True)
            )
            while not ending.done():
                await asyncio.wait({ending}, timeout=SAMPLE_EVERY_S)
                peak = {name: max(peak[name], value) for name, value in read().items()}
            result.fail_all(
                [f"end: {type(e).__name__}: {e}" for e in ending.result() if isinstance(e, BaseException)]
            )
            after = await settled_rss(read, "call_api_workers")
            for sample in greeted_s:
                greeted.add(sample)
            for sample in replied_s:
                replied.add(sample)
            for name in ("call_api_workers", "controller", "mediasoup_worker"):
                figures = rss_row(name, len(calls), warm[name], idle[name], peak[name], after[name])
                rows.append([burst, *figures])
    result.wall_s = time.perf_counter() - started
    result.info.update(bursts=burst, rss_mb_cold=cold, rss_mb_warm_idle=warm)
    result.info["bursts_table"] = [dict(zip(TABLE_KEYS, row, strict=True)) for row in rows]
    last = {row[1]: row for row in rows[-3:]}
    for name, row in last.items():
        goals = ("≤ 2 MB", "≤ 10 %") if name == "call_api_workers" else (None, None)
        result.set_value(f"{name}_mb_per_idle_call", row[5], "MB", goals[0])
        result.set_value(f"{name}_mb_per_active_call", row[7], "MB")
        result.set_value(f"{name}_after_vs_warm_pct", row[9], "%", goals[1])
    header = ["burst", "process", "calls", "warm idle MB", "idle with calls MB", "MB / idle call"]
    header += ["peak MB", "MB / active call", "after MB", "after vs warm %"]
    result.tables.append(simple_table(header, rows))
    return result
