"""Load, a worker killed with SIGKILL, and the graceful drain on SIGTERM — real gunicorn, real Redis."""

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from call_api.registry import active_call_key
from voicebot_stack.credentials import scoped_call_id
from websockets.exceptions import InvalidStatus

from tests.support.callapi import (
    CALL_TERMINATED,
    CallApiServer,
    connect,
    expect_close,
    mediasoup_request,
    open_call,
    recv_json,
)
from tests.support.procs import wait_until
from tests.support.redis import RedisServer


async def echo_roundtrip(ws: Any, request_id: int) -> None:
    await ws.send(mediasoup_request(request_id))
    while True:  # skip the greeting if it is still queued
        message = await recv_json(ws)
        if message["event"] == "mediasoup_response":
            assert message["payload"]["request_id"] == request_id
            return


async def test_200_concurrent_calls_are_accepted_and_end_cleanly(
    echo_api: CallApiServer, redis_server: RedisServer
) -> None:
    run = uuid.uuid4().hex[:8]
    call_ids = [f"load-{run}-{n}" for n in range(200)]

    async def one_call(call_id: str) -> tuple[int, str]:
        ws = await open_call(echo_api.ws_url, call_id)
        await echo_roundtrip(ws, 1)
        await ws.send(CALL_TERMINATED)
        return await expect_close(ws, timeout=20)

    results = await asyncio.gather(*(one_call(c) for c in call_ids))
    assert results == [(1000, "call_terminated")] * 200

    def all_closed() -> bool:
        orchestrators_closed = {r["call_id"] for r in echo_api.log_records("test orchestrator closed")}
        calls_closed = {r["call_id"] for r in echo_api.log_records("call closed")}  # logged after the release
        return orchestrators_closed >= set(call_ids) and calls_closed >= set(call_ids)

    await asyncio.to_thread(wait_until, all_closed, 30.0, "aclose and release of all 200 calls")
    client = redis.Redis.from_url(redis_server.url)
    assert sum(client.exists(active_call_key(scoped_call_id(c))) for c in call_ids) == 0
    accepted_by = {r["pid"] for r in echo_api.log_records("call accepted") if r["call_id"] in set(call_ids)}
    assert accepted_by <= set(echo_api.worker_pids())


async def test_kill_9_of_a_worker_drops_only_its_calls(start_call_api: Callable[..., CallApiServer]) -> None:
    api = start_call_api()
    calls: dict[str, Any] = {}
    workers: dict[str, int] = {}
    # Open calls until both workers hold some (which worker accepts is the kernel's choice).
    for batch in range(5):
        ids = [f"kill-{batch}-{n}" for n in range(20 if batch == 0 else 10)]
        sockets = await asyncio.gather(*(open_call(api.ws_url, c) for c in ids))
        calls.update(zip(ids, sockets, strict=True))
        for call_id in ids:
            workers[call_id] = await api.worker_of_call(call_id)
        if len(set(workers.values())) == 2:
            break
    assert len(set(workers.values())) == 2, "all calls landed on one worker"

    victim = workers[next(iter(workers))]
    doomed = [c for c, pid in workers.items() if pid == victim]
    survivors = [c for c, pid in workers.items() if pid != victim]
    os.kill(victim, signal.SIGKILL)

    # New calls are served at once by the surviving worker (and then by the replacement).
    fresh = await asyncio.gather(*(open_call(api.ws_url, f"after-kill-{n}") for n in range(5)))
    # …by the survivor: gunicorn needs ~12 s for a new worker (which pid took a call is its log
    # line's word, not a clock's: a loaded machine slows the calls and the replacement alike).
    [survivor] = set(workers.values()) - {victim}
    assert {await api.worker_of_call(f"after-kill-{n}", 20) for n in range(5)} == {survivor}

    for call_id in doomed:
        code, _ = await expect_close(calls[call_id], timeout=20)
        assert code == 1006  # the process died: no close frame
    for n, call_id in enumerate(survivors):
        await echo_roundtrip(calls[call_id], 100 + n)

    def replaced() -> bool:
        pids = api.worker_pids()
        return len(pids) == 2 and victim not in pids and api.ready_workers() == 2

    await asyncio.to_thread(wait_until, replaced, 15.0, "gunicorn to replace the killed worker")
    for ws in [*fresh, *(calls[c] for c in survivors)]:
        await ws.send(CALL_TERMINATED)
        assert (await expect_close(ws))[0] == 1000


DRAIN_GRACE = 6


def http_status(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_sigterm_drains_active_calls_then_ends_them(
    start_call_api: Callable[..., CallApiServer],
) -> None:
    # The grace leaves a loaded machine room for the checks below, all made while calls are active.
    api = start_call_api(CALL_API_DRAIN_GRACE_SECONDS=str(DRAIN_GRACE))
    ids = [f"drain-{n}" for n in range(6)]
    sockets = dict(zip(ids, await asyncio.gather(*(open_call(api.ws_url, c) for c in ids)), strict=True))

    assert api.proc is not None
    api.proc.signal(signal.SIGTERM)
    sigterm_at = time.monotonic()

    # Readiness turns 503 at once on every worker.
    def all_draining() -> bool:
        return {r["pid"] for r in api.log_records("draining")} >= set(api.worker_pids())

    await asyncio.to_thread(wait_until, all_draining, DRAIN_GRACE, "every worker to start draining")
    for _ in range(4):
        status, body = await asyncio.to_thread(http_status, f"{api.http_url}/readyz")
        assert status == 503 and body["draining"] is True

    # New calls are refused in the handshake with HTTP 503 (a gateway can retry elsewhere); the
    # body is the call_failed message.
    with pytest.raises(InvalidStatus) as refused:
        await connect(api.ws_url)
    assert refused.value.response.status_code == 503
    assert json.loads(refused.value.response.body) == {
        "event": "call_failed",
        "reason": "server is draining",
        "code": "server_draining",
    }

    # Active calls go on; one ends normally during the grace period.
    for n, call_id in enumerate(ids):
        await echo_roundtrip(sockets[call_id], n)
    await sockets[ids[0]].send(CALL_TERMINATED)
    assert await expect_close(sockets[ids[0]]) == (1000, "call_terminated")

    # After the grace period the rest are ended by the server.
    for call_id in ids[1:]:
        ws = sockets[call_id]
        ended = await recv_json(ws, timeout=10)
        assert ended == {"event": "call_ended", "reason": "server shutting down", "code": "server_shutdown"}
        assert await expect_close(ws) == (1001, "server_shutdown")
    assert time.monotonic() - sigterm_at >= DRAIN_GRACE - 0.5
    for call_id in ids:
        await api.log_record("test orchestrator closed", call_id)
    await asyncio.to_thread(wait_until, lambda: not api.proc.alive(), 10.0, "gunicorn to exit")
