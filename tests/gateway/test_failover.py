"""An instance behind the gateway dies or drains: new calls go to the other one; a draining
instance keeps its active call through the grace period."""

import asyncio
import signal
import urllib.error
import urllib.request
import uuid
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.gateway.conftest import StartGateway
from tests.gateway.wss import echo, instance_of, open_call
from tests.support.callapi import CALL_TERMINATED, expect_close
from tests.support.procs import wait_until


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
    calls = [await open_call(nginx.wss_url, context, new_call_id()) for _ in range(10)]
    assert Counter(instance_of(ws) for ws, _ in calls) == {second.instance: 10}
    assert await end_calls(calls) == [1000] * 10


async def test_draining_instance_keeps_its_call_while_new_calls_go_elsewhere(
    start_gateway: StartGateway,
) -> None:
    nginx, apis = start_gateway(CALL_API_DRAIN_GRACE_SECONDS="20")
    context = nginx.ssl_context()
    active, _ = await open_call(nginx.wss_url, context, new_call_id())
    draining = next(api for api in apis if api.instance == instance_of(active))
    other = next(api for api in apis if api is not draining)

    proc = draining.proc
    assert proc is not None
    proc.signal(signal.SIGTERM)
    await asyncio.to_thread(
        wait_until, lambda: http_status(f"{draining.http_url}/readyz") == 503, 10.0, "the instance to drain"
    )

    new_calls = [await open_call(nginx.wss_url, context, new_call_id()) for _ in range(6)]
    assert Counter(instance_of(ws) for ws, _ in new_calls) == {other.instance: 6}

    # The active call still works during the grace period, on the draining instance.
    assert (await echo(active, 42))["payload"]["request_id"] == 42
    assert proc.alive()
    await active.send(CALL_TERMINATED)
    assert (await expect_close(active))[0] == 1000
    # With its last call gone the drain ends early and the instance exits.
    await asyncio.to_thread(wait_until, lambda: not proc.alive(), 15.0, "the drained instance to exit")
    assert await end_calls(new_calls) == [1000] * 6
