"""Kamailio, the SIP/TCP edge in front of the gateway (docs/sip-gateway.md, "Transports"): its config
rendered into the run dir and its ServiceSpec, run by supervisord under `make up` and by the tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from voicebot_stack.probes import port_open
from voicebot_stack.specs import ServiceSpec, Supervision

TEMPLATE = Path(__file__).resolve().parents[1] / "kamailio" / "kamailio.cfg"
LOOPBACK = "127.0.0.1"


def kamailio_bin() -> str:
    found = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise SystemExit("kamailio is not installed: run `make setup` (scripts/setup.sh)")
    return found


def render(
    path: Path,
    *,
    tcp_port: int,
    relay_port: int,
    gateway_port: int,
    allow_networks: str,
    host: str = LOOPBACK,
) -> Path:
    """The config with its placeholders filled: TCP on `host`, UDP towards the gateway on loopback."""
    values = {
        "TCP_HOST": host,
        "TCP_PORT": str(tcp_port),
        "RELAY_HOST": LOOPBACK,
        "RELAY_PORT": str(relay_port),
        "GATEWAY_HOST": LOOPBACK,
        "GATEWAY_PORT": str(gateway_port),
        "ALLOW_NETWORKS": ",".join(n.strip() for n in allow_networks.split(",") if n.strip()),
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    if "@@" in text:
        raise ValueError(f"{TEMPLATE}: a placeholder left unfilled")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


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


def render_from_env(path: Path, env: dict[str, str]) -> Path:
    """The container's way (infra/k8s): the same template, its values from KAMAILIO_* variables."""
    return render(
        path,
        tcp_port=int(env.get("KAMAILIO_TCP_PORT", "5060")),
        relay_port=int(env.get("KAMAILIO_RELAY_PORT", "5061")),
        gateway_port=int(env.get("KAMAILIO_GATEWAY_PORT", "5060")),
        allow_networks=env["KAMAILIO_ALLOW_NETWORKS"],
        host=env.get("KAMAILIO_TCP_HOST", LOOPBACK),
    )


if __name__ == "__main__":
    import os
    import sys

    render_from_env(Path(sys.argv[1]), dict(os.environ))
