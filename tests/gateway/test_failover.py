"""An instance behind the gateway dies or drains: new calls go to the other one; a draining
instance keeps its active call through the grace period."""

import asyncio
import signal
import urllib.error
import urllib.request
import uuid
from collections import Counter
from typing import Any

from voicebot_callsim.raw import (
    CALL_TERMINATED,
    expect_close,
    instance_of,
    mediasoup_exchange,
    start_call,
    trace_header,
)
from websockets.asyncio.client import ClientConnection

from tests.gateway.conftest import StartGateway
from tests.support.callapi import CallApiServer
from tests.support.nginx import NginxGateway
from tests.support.procs import Proc, wait_until


def new_call_id() -> str:
    return f"gw-{uuid.uuid4().hex[:12]}"


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


async def end_calls(calls: list[tuple[ClientConnection, dict[str, Any]]]) -> list[int]:
    for ws, _ in calls:
        await ws.send(CALL_TERMINATED)
    return [code for code, _ in await asyncio.gather(*(expect_close(ws) for ws, _ in calls))]


async def test_stopped_instance_is_skipped_for_new_calls(start_gateway: StartGateway) -> None:
    nginx, (first, second) = start_gateway()
    context = nginx.ssl_context()
    first.stop()
    calls = [await start_call(nginx.wss_url, new_call_id(), ssl=context) for _ in range(10)]
    assert Counter(instance_of(ws) for ws, _ in calls) == {second.instance: 10}
    assert await end_calls(calls) == [1000] * 10


async def start_draining(
    start_gateway: StartGateway,
) -> tuple[NginxGateway, ClientConnection, CallApiServer, CallApiServer, Proc]:
    """A gateway over two instances, a call on one of them, and that instance SIGTERMed (draining)."""
    nginx, apis = start_gateway(CALL_API_DRAIN_GRACE_SECONDS="20")
    active, _ = await start_call(nginx.wss_url, new_call_id(), ssl=nginx.ssl_context())
    draining = next(api for api in apis if api.instance == instance_of(active))
    other = next(api for api in apis if api is not draining)
    proc = draining.proc
    assert proc is not None
    proc.signal(signal.SIGTERM)

    def drains() -> bool:
        # Every worker, not just the one that answers /readyz: gunicorn passes the SIGTERM on to
        # each, and one not yet draining would still accept a new call.
        every_worker = {r["pid"] for r in draining.log_records("draining")} >= set(draining.worker_pids())
        return every_worker and http_status(f"{draining.http_url}/readyz") == 503

    await asyncio.to_thread(wait_until, drains, 20.0, "every worker of the instance to drain")
    return nginx, active, draining, other, proc


async def test_draining_instance_keeps_its_active_call(start_gateway: StartGateway) -> None:
    nginx, active, draining, _, proc = await start_draining(start_gateway)
    # The call still works during the grace period, on the draining instance, through nginx.
    for request_id in range(3):
        assert (await mediasoup_exchange(active, request_id, "ping"))["payload"]["request_id"] == request_id
        assert proc.alive()
    await active.send(CALL_TERMINATED)
    assert (await expect_close(active))[0] == 1000
    # With its last call gone the drain ends early and the instance exits.
    await asyncio.to_thread(wait_until, lambda: not proc.alive(), 15.0, "the drained instance to exit")
    assert draining.instance in nginx.wait_access_record(trace_header(active))["call_api_instance"]


async def test_new_calls_skip_a_draining_instance(start_gateway: StartGateway) -> None:
    nginx, active, _, other, _ = await start_draining(start_gateway)
    context = nginx.ssl_context()
    new_calls = [await start_call(nginx.wss_url, new_call_id(), ssl=context) for _ in range(6)]
    assert Counter(instance_of(ws) for ws, _ in new_calls) == {other.instance: 6}
    assert await end_calls(new_calls) == [1000] * 6
    await active.close()
