"""The SIP gateway as a service of the local stack (docs/sip-gateway.md): its ServiceSpec, run by
supervisord under `make up` and by the tests and the bench alike."""

from __future__ import annotations

from pathlib import Path

from voicebot_stack import paths
from voicebot_stack.probes import http_ok
from voicebot_stack.specs import ServiceSpec, Supervision, loopback


def sip_gateway(
    sip_port: int,
    health_port: int,
    *,
    wss_url: str,
    ca_file: Path,
    gateway_key: str,
    keepalive_s: int = 300,
    extra_env: dict[str, str] | None = None,
) -> ServiceSpec:
    env = {
        "SIP_GATEWAY_SIP_PORT": str(sip_port),
        "SIP_GATEWAY_HEALTH_PORT": str(health_port),
        "SIP_GATEWAY_CALL_API_URL": wss_url,
        "SIP_GATEWAY_CALL_API_CA_FILE": str(ca_file),
        "SIP_GATEWAY_CALL_API_TOKEN": gateway_key,
        "SIP_GATEWAY_ALLOW_NETWORKS": "127.0.0.1/32",  # the local stack trusts loopback
        "SIP_GATEWAY_VAR_HEADERS": "X-Customer-Id",
        # SIPp (make demo-sip, the tests) does not answer keepalive re-INVITEs: only long calls get one.
        "SIP_GATEWAY_KEEPALIVE_SECONDS": str(keepalive_s),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    return ServiceSpec(
        name="sip-gateway",
        command=(str(paths.VENV_BIN / "python"), "-m", "sip_gateway"),
        env=env,
        ready=lambda: http_ok(loopback(health_port, "/healthz")),
        supervision=Supervision(priority=60, startsecs=1),
    )
