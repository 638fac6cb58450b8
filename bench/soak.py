"""soak.memory: repeated real calls (full stack, real Orchestrator) for a while; the RSS of the
call-api workers and of the media-controller (and the mediasoup worker) before, during and after.

Each call: connect, media legs, the greeting, the caller says "no thank you", the bot says goodbye
and ends the call. CONCURRENT callers place calls back to back until the time is up.
Warm-up: rounds of calls until every call-api worker has served some (models load on first use).
- per call (active): (median RSS while calls run, steady state − RSS idle at the end) / CONCURRENT;
- drift: RSS idle at the end − RSS idle after the warm-up, and the slope of RSS over calls done."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from voicebot_callsim.call import GatewayCall
from voicebot_stack.procstat import rss_mb

from bench import audio
from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result, simple_table
from bench.stack import full_stack
from bench.stats import slope

CONCURRENT = 4
WORKERS = 2  # call-api gunicorn workers
CALLER_TEXT = "no thank you"
SAMPLE_EVERY_S = 5.0
IDLE_SETTLE_S = 3.0
WARMUP_ROUNDS = 6


async def one_call(url: str, packets: list[bytes]) -> None:
    call = GatewayCall(url, f"bench-soak-{uuid.uuid4().hex[:10]}", {"contact_name": "Ann"})
    try:
        await call.start()
        await call.setup_media()
        await call.wait_event("transcript", 20, role="bot")
        assert call.voice is not None
        await call.voice.say_packets(packets)
        async with asyncio.timeout(20):
            await call.closed.wait()  # the bot says goodbye and ends the call
    finally:
        await call.terminate()


async def caller_loop(
    url: str, packets: list[bytes], until: float, done: list[int], failures: list[str]
) -> None:
    while time.monotonic() < until:
        try:
            await one_call(url, packets)
            done[0] += 1
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(1.0)


@scenario(
    "soak.memory", "repeated real calls: memory per call and RSS drift of call-api workers + controller"
)
async def soak(ctx: BenchContext) -> Result:
    seconds = ctx.options.soak_seconds
    result = Result(info={"seconds": seconds, "concurrent_calls": CONCURRENT, "call_api_workers": WORKERS})
    packets = list(audio.packets(CALLER_TEXT))
    started = time.perf_counter()
    with full_stack(ctx.scratch("soak"), workers=WORKERS) as stack:
        url = stack.call_api.ws_url

        def pids() -> dict[str, list[int]]:
            return {
                "call_api_workers": stack.call_api.worker_pids(),
                "controller": [stack.media.controller.pid],
                "mediasoup_worker": stack.media.worker_pids(),
            }

        cold = rss_mb(pids())
        done, failures = [0], result.failures
        # Warm-up: one round of calls (providers, models and caches load on the first calls).
        for _ in range(WARMUP_ROUNDS):  # until every worker served calls (gunicorn picks the worker)
            await asyncio.gather(*(one_call(url, packets) for _ in range(CONCURRENT)), return_exceptions=True)
            served = {r["pid"] for r in stack.call_api.log_records("call accepted")}
            if set(stack.call_api.worker_pids()) <= served:
                break
        await asyncio.sleep(IDLE_SETTLE_S)
        warm = rss_mb(pids())
        warm_calls = done[0] = 0
        samples: list[tuple[int, dict[str, float]]] = []
        until = time.monotonic() + seconds
        callers = [
            asyncio.create_task(caller_loop(url, packets, until, done, failures)) for _ in range(CONCURRENT)
        ]
        while not all(c.done() for c in callers):
            await asyncio.wait(callers, timeout=SAMPLE_EVERY_S)
            samples.append((done[0], rss_mb(pids())))
        await asyncio.sleep(IDLE_SETTLE_S)
        final = rss_mb(pids())
    result.wall_s = time.perf_counter() - started
    calls = done[0] - warm_calls
    result.info.update(calls=calls, rss_mb_cold=cold, rss_mb_warm_idle=warm, rss_mb_final_idle=final)
    result.info["samples"] = [{"calls": n, **s} for n, s in samples]
    result.set_value("calls", calls, "calls")
    # Steady state: from the first sample after a quarter of the calls (thread pools, arenas and
    # caches grow on a worker's first concurrent calls); the drift that matters is after it.
    steady = [(n, s) for n, s in samples if n >= max(2 * CONCURRENT, calls // 4)] or samples
    result.info["steady_from_calls"] = steady[0][0] if steady else None
    rows = []
    for name in ("call_api_workers", "controller", "mediasoup_worker"):
        steady_values = [s[name] for _, s in steady]
        active_per_call = (statistics.median(steady_values) - final[name]) / CONCURRENT if steady else None
        steady_slope = slope([float(n) for n, _ in steady], [s[name] for _, s in steady])
        steady_slope_kb = steady_slope * 1024 if steady_slope is not None else None
        steady_drift = final[name] - steady[0][1][name] if steady else None
        result.set_value(f"{name}_mb_per_active_call", active_per_call, "MB", "≤ 2 MB")
        result.set_value(f"{name}_steady_drift_mb", steady_drift, "MB", "≈ 0")
        result.set_value(f"{name}_steady_slope_kb_per_call", steady_slope_kb, "KB/call", "≈ 0")
        rows.append(
            [
                name,
                cold[name],
                warm[name],
                steady[0][1][name] if steady else None,
                final[name],
                final[name] - warm[name],
                steady_drift,
                steady_slope_kb,
            ]
        )
    header = ["process", "RSS MB cold", "warm idle", "steady start", "final idle", "drift from warm MB"]
    header += ["steady drift MB", "steady slope KB/call"]
    result.tables.append(simple_table(header, rows))
    steps = max(1, len(samples) // 8)
    result.tables.append(
        simple_table(
            ["calls done", "call-api workers MB", "controller MB", "mediasoup worker MB"],
            [[n, s["call_api_workers"], s["controller"], s["mediasoup_worker"]] for n, s in samples[::steps]],
        )
    )
    return result
