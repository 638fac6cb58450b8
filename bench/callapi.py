"""call-api scenarios: WebSocket connect → call_accepted latency, straight to gunicorn."""

import asyncio
import time
import uuid

from bench.registry import scenario
from bench.stack import Stack
from bench.stats import Latencies
from tests.support.callapi import CALL_TERMINATED, call_start, connect, expect_close, recv_json

SEQUENTIAL_CALLS = 1000
CONCURRENT_CALLS = 200


async def accept_latency_ms(url: str, call_id: str) -> tuple[float, object]:
    """Time from opening the TCP connection to receiving call_accepted; returns it and the socket."""
    started = time.perf_counter()
    ws = await connect(url)
    await ws.send(call_start(call_id, contact_name="Bench"))
    message = await recv_json(ws, 30.0)
    elapsed = (time.perf_counter() - started) * 1000
    if message.get("event") != "call_accepted":
        await ws.close()
        raise RuntimeError(f"not accepted: {message}")
    return elapsed, ws


async def hang_up(ws: object) -> None:
    await ws.send(CALL_TERMINATED)  # type: ignore[attr-defined]
    await expect_close(ws, 30.0)


@scenario("callapi.accept.sequential", f"{SEQUENTIAL_CALLS} calls one after another")
async def sequential(stack: Stack) -> Latencies:
    result = Latencies()
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    for n in range(SEQUENTIAL_CALLS):
        try:
            latency, ws = await accept_latency_ms(stack.call_api.ws_url, f"bench-seq-{run}-{n}")
        except Exception as exc:
            result.failures.append(repr(exc))
            continue
        result.samples_ms.append(latency)
        await hang_up(ws)
    result.wall_s = time.perf_counter() - started
    return result


@scenario("callapi.accept.concurrent", f"{CONCURRENT_CALLS} calls opened at the same moment")
async def concurrent(stack: Stack) -> Latencies:
    result = Latencies()
    run = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(accept_latency_ms(stack.call_api.ws_url, f"bench-conc-{run}-{n}") for n in range(CONCURRENT_CALLS)),
        return_exceptions=True,
    )
    result.wall_s = time.perf_counter() - started
    sockets = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.failures.append(repr(outcome))
        else:
            latency, ws = outcome
            result.samples_ms.append(latency)
            sockets.append(ws)
    await asyncio.gather(*(hang_up(ws) for ws in sockets), return_exceptions=True)
    return result
