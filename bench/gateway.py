"""gateway.connect: WSS connect → call_accepted through the nginx TLS gateway at a fixed arrival
rate (open loop: a call starts on schedule whether or not the previous ones finished)."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid

from voicebot_callsim.raw import CALL_TERMINATED, call_start, connect, expect_close, recv_json

from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Figure, Result
from bench.stack import gateway_stack

RATE_PER_S = 100
SECONDS = (10.0, 3.0)  # full, --quick
# All the load comes from one IP (127.0.0.1): the template's per-IP limits (50 requests/s, burst
# 200, 200 connections) would refuse a third of it with 429. Lifted here to measure latency.
NGINX_LIMITS = {"req_per_second": 10_000, "req_burst": 10_000, "conn_per_ip": 10_000}
HOLD_S = 0.0  # the call is hung up as soon as it is accepted: the control path only


async def one_call(url: str, tls: ssl.SSLContext | None, call_id: str, due: float) -> tuple[float, float]:
    """(due → call_accepted, due → the connect really started) in ms; `due` is perf_counter time."""
    delay = due - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    began = time.perf_counter()
    ws = await connect(url, ssl=tls)
    try:
        await ws.send(call_start(call_id, contact_name="Bench"))
        message = await recv_json(ws, 10.0)
        accepted = time.perf_counter()
        if message.get("event") != "call_accepted":
            raise RuntimeError(f"not accepted: {message}")
        if HOLD_S:
            await asyncio.sleep(HOLD_S)
        await ws.send(CALL_TERMINATED)
        await expect_close(ws, 10.0)
    finally:
        await ws.close()
    return (accepted - due) * 1000, (began - due) * 1000


@scenario("gateway.connect", f"WSS connect → call_accepted via nginx TLS at {RATE_PER_S} new calls/s")
async def connect_rate(ctx: BenchContext) -> Result:
    seconds = ctx.options.pick(*SECONDS)
    count = int(RATE_PER_S * seconds)
    result = Result(
        info={
            "target": "nginx TLS (infra/nginx template, 1 nginx worker) → gunicorn, echo orchestrator",
            "rate_per_s": RATE_PER_S,
            "calls": count,
            "workers": ctx.options.workers,
            "measured_from": "the call's scheduled start (open loop, no coordinated omission)",
            "nginx_overrides": NGINX_LIMITS,
        }
    )
    accept = result.figure("accept", goal="p99 ≤ 50 ms")
    lag = result.figure("client_start_lag")
    direct = result.figure("accept_direct_gunicorn")
    with gateway_stack(ctx.options.workers, ctx.scratch("gateway"), **NGINX_LIMITS) as gw:
        tls = ssl.create_default_context(cafile=gw.ca_file)
        started = time.perf_counter()
        result.fail_all(await open_loop(gw.wss_url, tls, count, seconds, accept, lag))
        result.wall_s = time.perf_counter() - started
        # The same load straight to gunicorn, right after: the ratio is what nginx + TLS cost.
        result.fail_all(await open_loop(gw.stack.call_api.ws_url, None, count, seconds, direct, None))
    result.set_value("achieved_rate", len(accept.samples) / seconds, "calls/s", f"{RATE_PER_S}")
    for q in ("p50", "p99"):
        via, plain = accept.summary()[q], direct.summary()[q]
        result.set_value(f"ratio_{q}_nginx_vs_direct", via / plain if via and plain else None, "×")
    return result


async def open_loop(
    url: str, tls: ssl.SSLContext | None, count: int, seconds: float, accept: Figure, lag: Figure | None
) -> list[str]:
    """`count` calls at RATE_PER_S; their latencies into the figures; the failures returned."""
    run = uuid.uuid4().hex[:8]
    first = time.perf_counter() + 0.2
    tasks = [
        asyncio.create_task(one_call(url, tls, f"bench-gw-{run}-{n}", first + n / RATE_PER_S))
        for n in range(count)
    ]
    async with asyncio.timeout(seconds + 60):
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    failures = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            failures.append(repr(outcome))
        else:
            accept.add(outcome[0])
            if lag is not None:
                lag.add(outcome[1])
    return failures
