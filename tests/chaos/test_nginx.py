"""The Nginx row: the process dies → the infrastructure restarts it. Here the infrastructure is the
local stack's supervisord (scripts/stack.sh); in Kubernetes it is the kubelet. The back end behind
nginx runs the echo orchestrator: this row is about the gateway, not the dialog."""

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from voicebot_callsim.call import GatewayCall
from voicebot_stack.procstat import alive as _pid_alive
from voicebot_stack.procstat import children as _children

from tests.chaos.report import Row
from tests.support.callapi import factory_path
from tests.support.stack import LocalStack

ECHO_FACTORY = factory_path("create_echo_orchestrator")
MAX_RECOVERY_SECONDS = 10.0  # "new calls work again within a few seconds"


@pytest.fixture(scope="module")
def gateway_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("chaos-local-stack"), factory=ECHO_FACTORY)
    started = local.up()
    try:
        assert started.returncode == 0, started.stderr[-4000:]
        yield local
    finally:
        pid = local.supervisord_pid()
        stopped = local.down()
        if pid and _pid_alive(pid):  # down failed: never leave our supervisord behind
            os.kill(pid, signal.SIGTERM)
        assert stopped.returncode == 0, stopped.stderr


def _call(local: LocalStack, tag: str) -> GatewayCall:
    values = local.values()
    return GatewayCall(
        values["WSS_URL"], f"chaos-nginx-{tag}-{uuid.uuid4().hex[:8]}", ca_file=values["CA_FILE"]
    )


async def _try_call(local: LocalStack, tag: str, open_timeout: float = 2) -> bool:
    """Whether a new call goes through (a probe gives up fast: the next one is 0.1 s away)."""
    call = _call(local, tag)
    try:
        await call.start(open_timeout=open_timeout)
        return True
    except Exception:
        return False
    finally:
        await call.aclose()


async def test_nginx_killed_is_restarted(gateway_stack: LocalStack, row: Row) -> None:
    row.fault = "nginx master killed (SIGKILL), local stack under supervisord, 2 live calls"
    row.promise = "the infrastructure restarts it; new calls work again within a few seconds"
    live = [_call(gateway_stack, f"live{i}") for i in range(2)]
    cut: list[asyncio.Task[float]] = []
    try:
        await asyncio.gather(*(c.start() for c in live))
        old = gateway_stack.processes()["nginx"]["pid"]
        old_workers = _children(old)
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        cut = [asyncio.create_task(_closed_after(c, killed_at)) for c in live]
        # Probe with new calls until a call goes through the *restarted* nginx (the old master's
        # orphaned workers may still answer for a moment, until supervisord's reaper ends them).
        probes: list[tuple[float, bool]] = []
        while True:
            ok = await _try_call(gateway_stack, f"probe{len(probes)}")
            probes.append((time.monotonic() - killed_at, ok))
            info = gateway_stack.processes()["nginx"]
            restarted = info["statename"] == "RUNNING" and info["pid"] not in (0, old)
            if ok and restarted and not any(_pid_alive(p) for p in old_workers):
                break
            assert time.monotonic() - killed_at < MAX_RECOVERY_SECONDS, f"nginx not back in time: {probes}"
            await asyncio.sleep(0.1)  # pacing of the probes, not a wait for an outcome
        recovered_s = probes[-1][0]
        # And under load again: three concurrent calls through the new nginx.
        assert all(await asyncio.gather(*(_try_call(gateway_stack, f"load{i}", 20) for i in range(3))))
        async with asyncio.timeout(15):  # the old master's orphaned workers are reaped: their calls end
            cut_s = await asyncio.gather(*cut)
    finally:
        for task in cut:
            task.cancel()
        await asyncio.gather(*(c.aclose() for c in live), return_exceptions=True)
    failed = [t for t, ok in probes if not ok]
    row.measure(
        f"supervisord restarted nginx (pid {old} → {info['pid']}); calls through the restarted nginx "
        f"{recovered_s:.1f}s after the kill, then 3/3 concurrent calls accepted"
    )
    row.measure(
        f"{len(probes)} probe calls meanwhile, {len(failed)} refused"
        + (f" ({min(failed):.1f}–{max(failed):.1f}s after the kill)" if failed else "")
    )
    row.measure(
        f"the 2 calls live through the old nginx were cut {min(cut_s):.1f}–{max(cut_s):.1f}s after the kill "
        f"(close {sorted({int(c.close_code or 0) for c in live})}): a gateway restart drops its calls"
    )


async def _closed_after(call: GatewayCall, since: float) -> float:
    await call.closed.wait()
    return time.monotonic() - since
