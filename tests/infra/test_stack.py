"""scripts/stack.sh: up brings every process up behind supervisord and prints the two lines, calls
work through the gateway, a killed process is restarted, down stops everything it started."""

import asyncio
import json
import os
import re
import secrets
import signal
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebot_callsim.raw import call_start, connect, instance_of, recv_json, trace_header
from voicebot_stack.probes import http_ok as stack_http_ok
from voicebot_stack.procstat import alive as pid_alive
from voicebot_stack.procstat import children
from websockets.exceptions import InvalidStatus

from tests.sip.support import run_sipp
from tests.support.callapi import factory_path
from tests.support.procs import http_ok, port_open, wait_until
from tests.support.stack import LocalStack

PROGRAMS = {
    "redis",
    "mediasoup",
    "media-controller",
    "call-api-1",
    "call-api-2",
    "nginx",
    "sip-gateway",
    "kamailio",
}
LISTENERS = {"reap-orphans"}
PORT_KEYS = (
    "HTTPS_PORT",
    "HTTP_PORT",
    "REDIS_PORT",
    "MEDIASOUP_PORT",
    "MEDIA_CONTROLLER_PORT",
    "CALL_API_1_PORT",
    "CALL_API_2_PORT",
)
# For the tests that only start and stop the stack (no call): no TTS/STT work at all.
ECHO_FACTORY = factory_path("create_echo_orchestrator")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, str]]:
    local = LocalStack(tmp_path_factory.mktemp("local-stack"))  # the real orchestrator
    started = local.up()
    try:
        assert started.returncode == 0, started.stderr[-4000:]
        yield local, started.stdout
    finally:
        pid = local.supervisord_pid()
        stopped = local.down()
        if pid and pid_alive(pid):  # down failed: do not leave our supervisord behind
            os.kill(pid, signal.SIGTERM)
        assert stopped.returncode == 0, stopped.stderr


def test_up_prints_exactly_its_lines(stack: tuple[LocalStack, str]) -> None:
    local, stdout = stack
    values = local.values()
    assert stdout.splitlines() == [
        f"WSS_URL={values['WSS_URL']}",
        f"CA_FILE={values['CA_FILE']}",
        f"GATEWAY_TOKEN={values['GATEWAY_TOKEN']}",
        f"WEB_URL={values['WEB_URL']}",
        f"SIP_URI={values['SIP_URI']}",
        f"SIP_TCP_URI={values['SIP_TCP_URI']}",
    ]
    assert re.fullmatch(r"sip:bot@127\.0\.0\.1:\d+", values["SIP_URI"])
    assert re.fullmatch(r"sip:bot@127\.0\.0\.1:\d+;transport=tcp", values["SIP_TCP_URI"])
    assert re.fullmatch(r"vbk_[A-Za-z0-9_-]{40,}", values["GATEWAY_TOKEN"])
    assert values["WEB_URL"] == values["WSS_URL"].replace("wss://", "https://").removesuffix("api/v1/call")
    assert re.fullmatch(r"wss://127\.0\.0\.1:\d+/api/v1/call", values["WSS_URL"])
    assert Path(values["CA_FILE"]).is_file()
    ports = [int(values[key]) for key in PORT_KEYS]
    assert len(set(ports)) == len(ports)
    assert all(port_open(port) for port in ports)
    # The config holds the per-stack mediasoup secret.
    assert (local.dir / "supervisord.conf").stat().st_mode & 0o077 == 0


def test_the_printed_sip_uri_answers_options(stack: tuple[LocalStack, str], tmp_path: Path) -> None:
    local, _ = stack
    port = int(local.values()["SIP_URI"].rpartition(":")[2])
    # SIPp as a trunk's keepalive: OPTIONS over UDP to SIP_URI, 200 OK with Allow (the local stack
    # trusts 127.0.0.1).
    run_sipp(tmp_path, "options", port, timeout=20).check()


def test_the_printed_sip_tcp_uri_answers_options_over_tcp(
    stack: tuple[LocalStack, str], tmp_path: Path
) -> None:
    local, _ = stack
    port = int(local.values()["SIP_TCP_URI"].removesuffix(";transport=tcp").rpartition(":")[2])
    # Kamailio takes TCP and relays to the gateway over UDP: the gateway's 200 OK with Allow comes back.
    run_sipp(tmp_path, "options", port, timeout=20, extra=["-t", "t1"]).check()


def test_every_process_runs_under_supervisord(stack: tuple[LocalStack, str]) -> None:
    local, _ = stack
    processes = local.processes()
    assert set(processes) == PROGRAMS | LISTENERS
    assert {p["statename"] for p in processes.values()} == {"RUNNING"}
    for name in PROGRAMS:
        assert (local.dir / "logs" / f"{name}.log").exists()


def test_up_again_is_idempotent(stack: tuple[LocalStack, str]) -> None:
    local, stdout = stack
    before = {name: p["pid"] for name, p in local.processes().items()}
    again = local.up()
    assert again.returncode == 0, again.stderr
    assert again.stdout == stdout
    assert {name: p["pid"] for name, p in local.processes().items()} == before


async def test_calls_through_the_stack_reach_both_instances(stack: tuple[LocalStack, str]) -> None:
    local, _ = stack
    values = local.values()
    context = ssl.create_default_context(cafile=values["CA_FILE"])
    served = set()
    # Round-robin reaches both within a few calls. On a busy host nginx may have taken one out for
    # its fail_timeout (10 s) after a slow connect: then one call each half second, up to 20 s.
    for index in range(44):
        if index >= 4:
            if served == {"call-api-1", "call-api-2"}:
                break
            await asyncio.sleep(0.5)
        token = values["GATEWAY_TOKEN"]  # the printed credential, by header or by query
        url = values["WSS_URL"] + (f"?token={token}" if index % 2 else "")
        async with await connect(url, ssl=context, token=None if index % 2 else token) as ws:
            served.add(instance_of(ws))
            await ws.send(call_start(f"stack-{index}-{os.getpid()}"))
            accepted = await recv_json(ws, 10)
            assert accepted["event"] == "call_accepted"
            assert accepted["payload"]["trace_id"] == trace_header(ws)
            # The client hangs up by closing: these tests are about the gateway, not the dialog.
            await ws.close()
    access = (local.dir / "logs" / "nginx-access.json").read_text()
    assert served == {"call-api-1", "call-api-2"}, access[-3000:]

    def logged_instances() -> set[str]:
        """The instances of the WebSockets nginx logged: it writes a line once a connection closes,
        which may be after our side of the close handshake is done."""
        lines = (local.dir / "logs" / "nginx-access.json").read_text().splitlines()
        access = [json.loads(line) for line in lines if line.strip()]
        return {r["call_api_instance"] for r in access if r["uri"] == "/api/v1/call" and r["status"] == 101}

    wait_until(lambda: logged_instances() >= served, 20, "nginx's access lines of the calls")
    logs = "".join(path.read_text() for path in (local.dir / "logs").glob("*.log*"))
    logs += (local.dir / "logs" / "nginx-access.json").read_text()
    assert values["GATEWAY_TOKEN"] not in logs, "a credential was written to a log"


async def test_the_stack_refuses_calls_without_its_token(stack: tuple[LocalStack, str]) -> None:
    local, _ = stack
    values = local.values()
    context = ssl.create_default_context(cafile=values["CA_FILE"])
    for token in (None, "vbk_not-the-key", values["GATEWAY_TOKEN"][:-2]):
        with pytest.raises(InvalidStatus) as refused:
            await connect(values["WSS_URL"], ssl=context, token=token)
        response = refused.value.response
        assert response.status_code == 401, token
        assert json.loads(response.body) == {
            "event": "call_failed",
            "reason": json.loads(response.body)["reason"],
            "code": "unauthorized",
        }
    with pytest.raises(InvalidStatus) as refused:
        await connect(values["WSS_URL"], {"Origin": "https://evil.example"}, ssl=context)
    assert refused.value.response.status_code == 403


async def test_trace_id_reaches_every_service(stack: tuple[LocalStack, str]) -> None:
    local, _ = stack
    values = local.values()
    trace_id = secrets.token_hex(16)
    context = ssl.create_default_context(cafile=values["CA_FILE"])
    async with await connect(values["WSS_URL"], {"X-Trace-ID": trace_id}, ssl=context) as ws:
        await ws.send(call_start(f"trace-{trace_id[:8]}", contact_name="Ann"))
        assert (await recv_json(ws, 10))["event"] == "call_accepted"
        await ws.close()
    logs = local.dir / "logs"
    for name in ("nginx-access.json", f"{instance_of(ws)}.log", "media-controller.log", "mediasoup.log"):
        wait_for_text(logs / name, trace_id)


def wait_for_text(path: Path, text: str, timeout: float = 20.0) -> None:
    wait_until(lambda: text in path.read_text(), timeout, f"{text!r} in {path.name}")


def healthy(values: dict[str, str], program: str) -> bool:
    if program == "media-controller":
        return http_ok(f"http://127.0.0.1:{values['MEDIA_CONTROLLER_PORT']}/readyz")
    if program == "redis":
        return port_open(int(values["REDIS_PORT"]))
    if program == "call-api-1":
        return http_ok(f"http://127.0.0.1:{values['CALL_API_1_PORT']}/readyz")
    context = ssl.create_default_context(cafile=values["CA_FILE"])
    return stack_http_ok(f"https://127.0.0.1:{values['HTTPS_PORT']}/nginx-healthz", context)


# nginx and gunicorn leave workers holding the port when their master is SIGKILLed; the stack's
# reap-orphans listener must clear them so the restarted master can bind again.
@pytest.mark.parametrize("program", ["media-controller", "redis", "nginx", "call-api-1"])
def test_a_killed_process_is_restarted(stack: tuple[LocalStack, str], program: str) -> None:
    local, _ = stack
    old = local.processes()[program]["pid"]
    old_children = children(old)
    os.kill(old, signal.SIGKILL)

    def restarted() -> bool:
        info = local.processes()[program]
        return info["statename"] == "RUNNING" and info["pid"] not in (0, old)

    wait_until(restarted, 60.0, f"supervisord to restart {program}")
    wait_until(
        lambda: not any(pid_alive(pid) for pid in old_children), 10.0, f"the old {program} workers to go"
    )
    wait_until(lambda: healthy(local.values(), program), 120.0, f"the restarted {program} to be healthy")


def test_down_stops_everything(tmp_path: Path) -> None:
    local = LocalStack(tmp_path, factory=ECHO_FACTORY)
    started = local.up()
    assert started.returncode == 0, started.stderr[-4000:]
    values = local.values()
    pids = [p["pid"] for p in local.processes().values()]
    supervisord = local.supervisord_pid()
    assert supervisord is not None
    stopped = local.down()
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(supervisord)
    wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10.0, "every stack process to exit")
    assert not any(port_open(int(values[key])) for key in PORT_KEYS)
    assert local.down().returncode == 0  # nothing left to stop is fine


def test_up_names_the_process_that_failed(tmp_path: Path) -> None:
    local = LocalStack(tmp_path, factory="no_such_module:create", timeout=240)  # 4 boots on a loaded machine
    failed = local.up()
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert re.search(r"FAILED: call-api-[12] is (FATAL|EXITED)", failed.stderr), failed.stderr[-3000:]
    assert "no_such_module" in failed.stderr  # the tail of its log
    pid = local.supervisord_pid()
    assert pid is None or not pid_alive(pid)  # nothing left running
