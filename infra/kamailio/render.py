"""The SIP/TCP edge's config: infra/kamailio/kamailio.cfg with its @@NAME@@ placeholders filled.
Standard library only, so that the sip-edge image (Debian's kamailio and python3, no venv) renders
it at start from KAMAILIO_* variables: `python3 render.py /run/kamailio/kamailio.cfg`. The local
stack and the tests call `render` (infra/stack/kamailio.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("kamailio.cfg")
LOOPBACK = "127.0.0.1"


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
    render_from_env(Path(sys.argv[1]), dict(os.environ))
