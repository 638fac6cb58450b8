"""The one-command local stack under supervisord (scripts/stack.sh up|down|logs|status).

redis, the mediasoup service, the media-controller, two call-api instances and the nginx gateway,
on free loopback ports. State lives in $VOICEBOT_STACK_DIR (default .run/stack): the generated
supervisord.conf, nginx config, `env` (ports and URLs) and logs/."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voicebot_stack import credentials, paths, procstat, specs, supervisord
from voicebot_stack.medianode import rtc_ports_of
from voicebot_stack.probes import http_ok
from voicebot_stack.procs import free_ports
from voicebot_stack.specs import SERVICE_ENV_PREFIXES, ServiceSpec

from infra.nginx import render as nginx_render
from infra.stack import kamailio as kamailio_spec
from infra.stack import sip as sip_spec

ROOT = paths.REPO_ROOT
VENV_BIN = paths.VENV_BIN
RUN_DIR = Path(os.environ.get("VOICEBOT_STACK_DIR") or ROOT / ".run" / "stack").resolve()
CERTS_DIR = Path(os.environ.get("VOICEBOT_CERTS_DIR") or ROOT / ".run" / "certs").resolve()
LOG_DIR = RUN_DIR / "logs"
CONF = RUN_DIR / "supervisord.conf"
SOCKET = RUN_DIR / "supervisor.sock"
ENV_FILE = RUN_DIR / "env"
TEMPLATE = Path(__file__).with_name("supervisord.conf.template")
UP_TIMEOUT = float(os.environ.get("VOICEBOT_STACK_TIMEOUT", "120"))
DRAIN_GRACE_SECONDS = 10
# Media-controllers on this node, each with its own mediasoup service and UDP port range
# (voicebot_stack.medianode). call-api is given the first; the others are for a caller of several
# controllers (issue 13's registry): until then 1 by default.
MEDIA_CONTROLLERS = int(os.environ.get("VOICEBOT_STACK_MEDIA_CONTROLLERS") or "1")
EXTRA_MEDIA = tuple(
    name for n in range(2, MEDIA_CONTROLLERS + 1) for name in (f"mediasoup-{n}", f"media-controller-{n}")
)
CORE_PROGRAMS = (
    "redis",
    "mediasoup",
    "media-controller",
    "call-api-1",
    "call-api-2",
    "nginx",
    "sip-gateway",
    "kamailio",
)
PROGRAMS = (*CORE_PROGRAMS, *EXTRA_MEDIA)
# Set by the caller to run the stack with another orchestrator (e.g. a test one); default: the real one.
FACTORY_ENV = "VOICEBOT_STACK_ORCHESTRATOR_FACTORY"


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def supervisor() -> Any:
    return supervisord.rpc(SOCKET)


def running() -> bool:
    if not SOCKET.exists():
        return False
    try:
        return bool(supervisor().getState()["statename"] == "RUNNING")
    except (OSError, xmlrpc.client.Fault):
        return False


def read_env() -> dict[str, str]:
    if not ENV_FILE.exists():
        return {}
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def print_endpoints(env: dict[str, str]) -> None:
    print(f"WSS_URL={env['WSS_URL']}")
    print(f"CA_FILE={env['CA_FILE']}")
    print(f"GATEWAY_TOKEN={env['GATEWAY_TOKEN']}")
    print(f"WEB_URL={env.get('WEB_URL', '')}")  # the softphone page (docs/softphone.md)
    print(f"SIP_URI={env.get('SIP_URI', '')}")  # the SIP gateway (docs/sip-gateway.md)
    print(f"SIP_TCP_URI={env.get('SIP_TCP_URI', '')}", flush=True)  # through Kamailio (ibid., "Transports")


def write_config() -> tuple[dict[str, str], list[ServiceSpec]]:
    """Certificates, ports, the nginx and supervisord configs; the stack's env and its services."""
    worker = paths.mediasoup_worker_bin()
    if worker is None:
        raise SystemExit("the mediasoup worker is not built: run `make setup` (scripts/setup.sh)")
    subprocess.run([str(paths.CERTS_SCRIPT), str(CERTS_DIR)], check=True)
    # One call per kind: ports are free only until bound, so each call's are distinct from each other.
    redis, mediasoup, controller, api1, api2, https, http, sip_health, sip_tcp = free_ports(9)
    sip, sip_relay = free_ports(2, socket.SOCK_DGRAM)
    kamailio_conf = kamailio_spec.render(
        RUN_DIR / "kamailio" / "kamailio.cfg",
        tcp_port=sip_tcp,
        relay_port=sip_relay,
        gateway_port=sip,
        allow_networks="127.0.0.1/32",  # what the gateway's spec trusts (infra/stack/sip.py)
    )
    nginx_prefix = RUN_DIR / "nginx"
    nginx_conf = nginx_prefix / "nginx.conf"
    nginx_render.local(
        nginx_prefix,
        https_port=https,
        http_port=http,
        cert=CERTS_DIR / "server.crt",
        key=CERTS_DIR / "server.key",
        upstreams=[f"127.0.0.1:{api1}", f"127.0.0.1:{api2}"],
        log_dir=LOG_DIR,
    ).write(nginx_conf)

    secret = secrets.token_hex(32)  # per stack
    creds = credentials.local()  # the gateway key, Redis's password, the controller's secret
    call_api_env = {
        "CALL_API_MEDIA_CONTROLLER_URL": f"http://127.0.0.1:{controller}",
        "CALL_API_DRAIN_GRACE_SECONDS": str(DRAIN_GRACE_SECONDS),
        # The softphone page's origin may mint browser call tokens (docs/softphone.md).
        "CALL_API_ALLOWED_ORIGINS": f"https://127.0.0.1:{https}",
    }

    def call_api(port: int, instance: str) -> ServiceSpec:
        return specs.call_api(
            port,
            instance=instance,
            redis_url=specs.redis_url(redis, creds.redis_password),
            workers=2,
            factory=os.environ.get(FACTORY_ENV) or None,
            extra_env=call_api_env,
            stop_wait_s=DRAIN_GRACE_SECONDS + 15,
        )

    ranges = MEDIA_CONTROLLERS > 1  # one controller: mediasoup's default range, as before
    services = [
        specs.redis(redis, creds.redis_password),
        specs.mediasoup(mediasoup, secret, rtc_ports=rtc_ports_of(0) if ranges else None),
        specs.media_controller(controller, mediasoup, secret),
        call_api(api1, "call-api-1"),
        call_api(api2, "call-api-2"),
        specs.nginx(nginx_prefix, nginx_conf, https, http),
        sip_spec.sip_gateway(
            sip,
            sip_health,
            wss_url=f"wss://127.0.0.1:{https}/api/v1/call",
            ca_file=CERTS_DIR / "ca.crt",
            gateway_key=creds.gateway_key,
        ),
        kamailio_spec.kamailio(kamailio_conf, sip_tcp, RUN_DIR / "kamailio"),
    ]
    controller_urls = [f"http://127.0.0.1:{controller}"]
    for n in range(2, MEDIA_CONTROLLERS + 1):
        service_port, controller_port = free_ports(2)
        services += [
            specs.mediasoup(service_port, secret, rtc_ports=rtc_ports_of(n - 1)).named(f"mediasoup-{n}"),
            specs.media_controller(controller_port, service_port, secret).named(f"media-controller-{n}"),
        ]
        controller_urls.append(f"http://127.0.0.1:{controller_port}")
    assert tuple(s.name for s in services) == PROGRAMS
    values = {
        "ROOT": str(ROOT),
        "RUN_DIR": str(RUN_DIR),
        "LOG_DIR": str(LOG_DIR),
        "VENV_BIN": str(VENV_BIN),
        "PROGRAMS": supervisord.programs(services, LOG_DIR),
    }
    CONF.write_text(nginx_render.render_template(TEMPLATE.read_text(), values))
    CONF.chmod(0o600)  # it holds the mediasoup secret

    env = {
        "WSS_URL": f"wss://127.0.0.1:{https}/api/v1/call",
        "CA_FILE": str(CERTS_DIR / "ca.crt"),
        "GATEWAY_TOKEN": creds.gateway_key,
        "WEB_URL": f"https://127.0.0.1:{https}/",
        "HTTPS_PORT": str(https),
        "HTTP_PORT": str(http),
        "REDIS_PORT": str(redis),
        "MEDIASOUP_PORT": str(mediasoup),
        "MEDIA_CONTROLLER_PORT": str(controller),
        "MEDIA_CONTROLLER_URLS": ",".join(controller_urls),
        "CALL_API_1_PORT": str(api1),
        "CALL_API_2_PORT": str(api2),
        "SIP_URI": f"sip:bot@127.0.0.1:{sip}",
        "SIP_PORT": str(sip),
        "SIP_HEALTH_PORT": str(sip_health),
        "SIP_TCP_URI": f"sip:bot@127.0.0.1:{sip_tcp};transport=tcp",
        "SIP_TCP_PORT": str(sip_tcp),
        "SUPERVISOR_SOCKET": str(SOCKET),
        "LOG_DIR": str(LOG_DIR),
    }
    ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    ENV_FILE.chmod(0o600)  # it holds the gateway key
    return env, services


# --- health ------------------------------------------------------------------------------------


def health_checks(env: dict[str, str], services: list[ServiceSpec]) -> dict[str, Callable[[], bool]]:
    """Each service's own readiness probe; the gateway's also proves a call-api answers through it
    (TLS verified against the local CA)."""
    checks = {spec.name: spec.ready for spec in services}
    tls = ssl.create_default_context(cafile=env["CA_FILE"])
    gateway = f"https://127.0.0.1:{env['HTTPS_PORT']}"
    own = checks["nginx"]
    checks["nginx"] = lambda: (
        own() and http_ok(f"{gateway}/nginx-healthz", tls) and http_ok(f"{gateway}/readyz", tls)
    )
    return checks


def log_tail(name: str, lines: int = 40, width: int = 600) -> str:
    path = LOG_DIR / f"{name}.log"
    if not path.exists():
        return "(no log)"
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    # A traceback is one long JSON line: keep its start and its end (the exception itself).
    return "\n".join(
        line if len(line) <= width else f"{line[: width // 3]} … {line[-2 * width // 3 :]}" for line in tail
    )


def wait_healthy(checks: dict[str, Callable[[], bool]], timeout: float) -> None:
    pending = set(PROGRAMS)
    deadline = time.monotonic() + timeout
    while pending:
        states = {p["name"]: p for p in supervisor().getAllProcessInfo()}
        for name in sorted(pending):
            state = states[name]["statename"]
            if state in ("FATAL", "EXITED", "STOPPED", "UNKNOWN"):
                raise StackError(name, f"{name} is {state} ({states[name]['spawnerr'] or 'exited'})")
            if state == "RUNNING" and checks[name]():
                say(f"{name}: healthy")
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            name = sorted(pending, key=PROGRAMS.index)[0]
            raise StackError(name, f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.2)


class StackError(Exception):
    def __init__(self, program: str, message: str) -> None:
        super().__init__(message)
        self.program = program


# --- commands ----------------------------------------------------------------------------------


def up() -> int:
    if running():
        say(f"already up (supervisord at {SOCKET})")
        print_endpoints(read_env())
        return 0
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    RUN_DIR.chmod(0o700)
    if LOG_DIR.exists():  # keep the last stack's logs one generation back, not mixed with these
        shutil.rmtree(RUN_DIR / "logs.previous", ignore_errors=True)
        LOG_DIR.rename(RUN_DIR / "logs.previous")
    LOG_DIR.mkdir()
    env, services = write_config()
    # The stack's processes get their settings from supervisord.conf only.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_ENV_PREFIXES)}
    subprocess.run([str(VENV_BIN / "supervisord"), "-c", str(CONF)], check=True, env=clean)
    deadline = time.monotonic() + 15
    while not running():
        if time.monotonic() > deadline:
            say(f"supervisord did not start; see {LOG_DIR / 'supervisord.log'}")
            return 1
        time.sleep(0.1)
    try:
        wait_healthy(health_checks(env, services), UP_TIMEOUT)
    except StackError as error:
        say(f"FAILED: {error}")
        say(f"last lines of {LOG_DIR / (error.program + '.log')}:\n{log_tail(error.program)}")
        down()
        return 1
    print_endpoints(env)
    return 0


def down() -> int:
    if not running():
        say("not running")
        return 0
    pid = int(supervisor().getPID())
    supervisor().shutdown()
    deadline = time.monotonic() + DRAIN_GRACE_SECONDS + 30
    while procstat.alive(pid):
        if time.monotonic() > deadline:
            say(f"supervisord (pid {pid}) still running after shutdown")
            return 1
        time.sleep(0.1)
    say("stopped")
    return 0


def status() -> int:
    if not running():
        say("not running")
        return 3
    for info in supervisor().getAllProcessInfo():
        print(f"{info['name']:<18} {info['statename']:<9} pid {info['pid']:<8} {info['description']}")
    print(json.dumps(read_env()))
    return 0


def logs() -> int:
    files = [str(LOG_DIR / f"{name}.log") for name in PROGRAMS] + [str(LOG_DIR / "nginx-access.json")]
    os.execvp("tail", ["tail", "-n", "20", "-F", *files])


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down, "status": status, "logs": logs}
    if len(argv) != 1 or argv[0] not in commands:
        say(f"usage: scripts/stack.sh {'|'.join(commands)}")
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
