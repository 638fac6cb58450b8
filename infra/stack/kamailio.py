"""Kamailio, the SIP/TCP edge in front of the gateway (docs/sip-gateway.md, "Transports"): its config
rendered into the run dir and its ServiceSpec, run by supervisord under `make up` and by the tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from voicebot_stack.probes import port_open
from voicebot_stack.specs import ServiceSpec, Supervision

from infra.kamailio.render import LOOPBACK, render, render_from_env


def kamailio_bin() -> str:
    found = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise SystemExit("kamailio is not installed: run `make setup` (scripts/setup.sh)")
    return found


def kamailio(config: Path, tcp_port: int, run_dir: Path) -> ServiceSpec:
    """In the foreground as the current user, logs as JSON lines on stderr (the call's Call-ID in
    each), its runtime files in `run_dir`; small shared memory, it only relays."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # Kamailio prints its listening sockets as plain text on stdout at start (unconditionally): only
    # stderr, its JSON log, is kept. `exec` keeps one process, the one supervisord signals.
    command = (
        "sh",
        "-c",
        'exec "$0" "$@" >/dev/null',
        kamailio_bin(),
        "-DD",
        "-E",
        "--log-engine=json:Mj",
        "-f",
        str(config),
        "-Y",
        str(run_dir),
        "-P",
        str(run_dir / "kamailio.pid"),
        "-m",
        "32",
        "-M",
        "4",
    )
    return ServiceSpec(
        name="kamailio",
        command=command,
        env={},
        ready=lambda: port_open(tcp_port),
        supervision=Supervision(priority=65, startsecs=1, stop_as_group=True, kill_as_group=True),
    )


__all__ = ["LOOPBACK", "kamailio", "kamailio_bin", "render", "render_from_env"]
