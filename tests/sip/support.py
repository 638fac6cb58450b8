"""The SIP gateway and SIPp for tests: the whole stack (Redis, mediasoup, media-controller, call-api
with the real Orchestrator, nginx) on loopback, the gateway in front, SIPp as the trunk."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot_stack import credentials
from voicebot_stack.launch import launch
from voicebot_stack.procs import Proc

from infra.stack.sip import sip_gateway
from tests.support.fullstack import FullStack
from tests.support.nginx import Certs, NginxGateway
from tests.support.procs import REPO_ROOT, free_port, free_sip_port, wait_until

SCENARIOS = Path(__file__).with_name("scenarios")
Record = dict[str, Any]
BIND_ATTEMPTS = 3
BIND_FAILED = "Unable to bind"  # SIPp's words when its -p or -mp port is taken


@dataclass
class SipGateway:
    proc: Proc
    sip_port: int
    health_port: int

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as resp:
            return dict(json.loads(resp.read()))

    def records(self, event: str | None = None) -> list[Record]:
        """The gateway's JSON log records (of one event), each with its line number as `_line`."""
        found = []
        for number, line in enumerate(list(self.proc.lines)):  # a copy: the pump thread appends
            if line.startswith("{"):
                record = json.loads(line)
                if event is None or record.get("event") == event:
                    found.append({**record, "_line": number})
        return found

    def mark(self) -> int:
        """Where the log is now: `wait_records(since=mark)` sees only what is logged after."""
        return len(self.proc.lines)

    def wait_records(self, event: str, *, since: int, count: int = 1, timeout: float = 15) -> list[Record]:
        """The `event` records logged after `since`, once there are `count` of them: a line the
        gateway wrote before SIPp ended may still be on its way through the log pipe."""

        def found() -> list[Record]:
            return [r for r in self.records(event) if r["_line"] >= since]

        wait_until(lambda: len(found()) >= count, timeout, f"{count} '{event}' record(s) of the gateway")
        return found()

    def stop(self) -> None:
        self.proc.stop()


def start_sip_gateway(log_dir: Path, nginx: NginxGateway, certs: Certs, **env: str) -> SipGateway:
    """The gateway from the stack's own service spec (infra/stack/sip.py), with the stack's gateway
    key for call-api; keepalive re-INVITEs off (SIPp scenarios do not answer them)."""
    sip_port = free_port(socket.SOCK_DGRAM)
    health_port = free_port()
    spec = sip_gateway(
        sip_port,
        health_port,
        wss_url=nginx.wss_url,
        ca_file=certs.ca,
        gateway_key=credentials.local().gateway_key,
        keepalive_s=0,
        extra_env=env,
    )
    return SipGateway(launch(spec, log_dir, timeout=20), sip_port, health_port)


@dataclass
class SippResult:
    returncode: int
    stdout: str
    messages: str  # SIPp's -trace_msg log: every message sent and received

    def check(self) -> SippResult:
        assert self.returncode == 0, (
            f"SIPp failed ({self.returncode}):\n{self.stdout[-2000:]}\n{self.messages[-4000:]}"
        )
        return self


def run_sipp(
    tmp_path: Path,
    scenario: str,
    gateway_port: int,
    *,
    local_ip: str = "127.0.0.1",
    calls: int = 1,
    rate: int = 1,
    keys: dict[str, str] | None = None,
    timeout: float = 60.0,
    extra: list[str] | None = None,
) -> SippResult:
    """Run a SIPp scenario of tests/sip/scenarios against the gateway; returns when SIPp ends.
    A SIPp that could not bind its chosen ports (taken between choosing and binding by another
    process of a busy machine) is run again on new ones: nothing was sent, so nothing is repeated."""
    for _ in range(BIND_ATTEMPTS - 1):
        result = _run_sipp_once(tmp_path, scenario, gateway_port, local_ip, calls, rate, keys, timeout, extra)
        if BIND_FAILED not in result.stdout:
            return result
    return _run_sipp_once(tmp_path, scenario, gateway_port, local_ip, calls, rate, keys, timeout, extra)


def _run_sipp_once(
    tmp_path: Path,
    scenario: str,
    gateway_port: int,
    local_ip: str,
    calls: int,
    rate: int,
    keys: dict[str, str] | None,
    timeout: float,
    extra: list[str] | None,
) -> SippResult:
    name = f"{scenario}-{free_port()}"
    messages = tmp_path / f"{name}.msg"
    cmd = [
        "sipp",
        f"127.0.0.1:{gateway_port}",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-i",
        local_ip,
        "-p",
        str(free_sip_port()),
        "-mp",
        str(free_port(socket.SOCK_DGRAM)),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(calls),
        "-s",
        "bot",
        "-nostdin",
        "-d",
        "1000",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-trace_msg",
        "-message_file",
        str(messages),
        "-trace_err",
        "-error_file",
        str(tmp_path / f"{name}.err"),
    ]
    for key, value in (keys or {}).items():
        cmd += ["-key", key, value]
    cmd += extra or []
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, cwd=tmp_path)
    text = messages.read_text(errors="replace") if messages.exists() else ""
    return SippResult(out.returncode, out.stdout + out.stderr, text)


async def start_sipp_call(
    target_port: int,
    scenario: str,
    keys: dict[str, str],
    cwd: Path,
    *,
    transport: str = "u1",
    extra: list[str] | None = None,
) -> asyncio.subprocess.Process:
    """One SIPp call of tests/sip/scenarios in the background (`-m 1`), its `[key]`s set: the
    callers of the RTP tests and benches, which then talk to the media the gateway answered with."""
    cmd = ["sipp", f"127.0.0.1:{target_port}", "-t", transport, "-sf", str(SCENARIOS / f"{scenario}.xml")]
    cmd += ["-s", "bot", "-i", "127.0.0.1", "-p", str(free_sip_port()), "-m", "1", "-nostdin"]
    cmd += extra or []
    for key, value in keys.items():
        cmd += ["-key", key, value]
    return await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=cwd
    )


def media_sessions(stack: FullStack) -> list[str]:
    """The call ids the media plane still holds a session for."""
    return [str(s["call_id"]) for s in stack.media.get("/v1/stats")["sessions"]]


__all__ = ["REPO_ROOT", "SipGateway", "media_sessions", "run_sipp", "start_sip_gateway", "start_sipp_call"]
