"""call-api scenarios: WebSocket connect → call_accepted latency, straight to gunicorn (echo
orchestrator: the control path only)."""

import asyncio
import time
import uuid
from typing import Any

from voicebot_callsim.raw import CALL_TERMINATED, call_start, connect, expect_close, recv_json

from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result

SEQUENTIAL_CALLS = (1000, 200)  # full, --quick
CONCURRENT_CALLS = (200, 50)


async def accept_latency_ms(url: str, call_id: str, **connect_args: Any) -> tuple[float, Any]:
    """Time from opening the TCP connection to receiving call_accepted; returns it and the socket."""
    started = time.perf_counter()
    ws = await connect(url, **connect_args)
    await ws.send(call_start(call_id, contact_name="Bench"))
    message = await recv_json(ws, 30.0)
    elapsed = (time.perf_counter() - started) * 1000
    if message.get("event") != "call_accepted":
        await ws.close()
        raise RuntimeError(f"not accepted: {message}")
    return elapsed, ws


async def hang_up(ws: Any) -> None:
    await ws.send(CALL_TERMINATED)
    await expect_close(ws, 30.0)


@scenario("callapi.accept.sequential", "connect → call_accepted, calls one after another (gunicorn direct)")
async def sequential(ctx: BenchContext) -> Result:
    url = ctx.callapi().call_api.ws_url
    count = ctx.options.pick(*SEQUENTIAL_CALLS)
    result = Result(info={"calls": count, "target": "gunicorn direct (ws://)"})
    accept = result.figure("accept")
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for n in range(count):
        try:
            latency, ws = await accept_latency_ms(url, f"bench-seq-{run}-{n}")
        except Exception as exc:
            result.fail(repr(exc))
            continue
        accept.add(latency)
        await hang_up(ws)
    result.wall_s = time.perf_counter() - started
    result.set_value("calls_per_s", len(accept.samples) / result.wall_s, "calls/s")
    return result


@scenario("callapi.accept.concurrent", "connect → call_accepted, all calls opened at the same moment")
async def concurrent(ctx: BenchContext) -> Result:
    url = ctx.callapi().call_api.ws_url
    count = ctx.options.pick(*CONCURRENT_CALLS)
    result = Result(info={"calls": count, "target": "gunicorn direct (ws://)"})
    accept = result.figure("accept")
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(accept_latency_ms(url, f"bench-conc-{run}-{n}") for n in range(count)),
        return_exceptions=True,
    )
    result.wall_s = time.perf_counter() - started
    sockets = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.fail(repr(outcome))
        else:
            latency, ws = outcome
            accept.add(latency)
            sockets.append(ws)
    await asyncio.gather(*(hang_up(ws) for ws in sockets), return_exceptions=True)
    result.set_value("calls_per_s", len(accept.samples) / result.wall_s, "calls/s")
    return result
