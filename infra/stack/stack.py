"""The one-command local stack under supervisord (scripts/stack.sh up|down|logs|status).

redis, the mediasoup service, the media-controller, two call-api instances, the nginx gateway and
the SIP gateway (UDP), on free loopback ports. State lives in $VOICEBOT_STACK_DIR (default
.run/stack): the generated supervisord.conf, nginx config, `env` (ports and URLs) and logs/."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from infra.nginx import render as nginx_render

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
RUN_DIR = Path(os.environ.get("VOICEBOT_STACK_DIR") or ROOT / ".run" / "stack").resolve()
CERTS_DIR = Path(os.environ.get("VOICEBOT_CERTS_DIR") or ROOT / ".run" / "certs").resolve()
LOG_DIR = RUN_DIR / "logs"
CONF = RUN_DIR / "supervisord.conf"
SOCKET = RUN_DIR / "supervisor.sock"
ENV_FILE = RUN_DIR / "env"
TEMPLATE = Path(__file__).with_name("supervisord.conf.template")
UP_TIMEOUT = float(os.environ.get("VOICEBOT_STACK_TIMEOUT", "120"))
DRAIN_GRACE_SECONDS = 10
PROGRAMS = ("redis", "mediasoup", "media-controller", "call-api-1", "call-api-2", "nginx", "sip-gateway")
# Set by the caller to run the stack with another orchestrator (e.g. a test one); default: the real one.
FACTORY_ENV = "VOICEBOT_STACK_ORCHESTRATOR_FACTORY"


def say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def supervisor() -> Any:
    transport = SupervisorTransport(None, None, f"unix://{SOCKET}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def running() -> bool:
    if not SOCKET.exists():
        return False
    try:
        return bool(supervisor().getState()["statename"] == "RUNNING")
    except (OSError, xmlrpc.client.Fault):
        return False


def free_ports(count: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    sockets = []
    try:
        for _ in range(count):  # held together, so all distinct
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def mediasoup_worker_bin() -> str:
    script = ROOT / "services" / "mediasoup" / "scripts" / "build-worker.sh"
    out = subprocess.run([str(script), "--print-path"], capture_output=True, text=True, check=False)
    path = out.stdout.strip()
    if not path or not Path(path).exists():
        raise SystemExit("the mediasoup worker is not built: run `make setup` (scripts/setup.sh)")
    return path


def read_env() -> dict[str, str]:
    if not ENV_FILE.exists():
        return {}
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def print_endpoints(env: dict[str, str]) -> None:
    print(f"WSS_URL={env['WSS_URL']}")
    print(f"CA_FILE={env['CA_FILE']}")
    print(f"SIP_URI={env['SIP_URI']}", flush=True)


def write_config() -> dict[str, str]:
    """Certificates, ports, the nginx and supervisord configs; returns the stack's env."""
    subprocess.run([str(ROOT / "scripts" / "certs.sh"), str(CERTS_DIR)], check=True)
    redis, mediasoup, controller, api1, api2, https, http, sip_health = free_ports(8)
    (sip,) = free_ports(1, socket.SOCK_DGRAM)
    # The SIP gateway's credential for call-api (docs/security.md: a gateway key, hashes on the server).
    gateway_key = "vbk_" + secrets.token_hex(24)
    nginx_prefix = RUN_DIR / "nginx"
    nginx_render.local(
        nginx_prefix,
        https_port=https,
        http_port=http,
        cert=CERTS_DIR / "server.crt",
        key=CERTS_DIR / "server.key",
        upstreams=[f"127.0.0.1:{api1}", f"127.0.0.1:{api2}"],
        log_dir=LOG_DIR,
    ).write(nginx_prefix / "nginx.conf")

    call_api_env = {
        "CALL_API_WORKERS": "2",
        "CALL_API_REDIS_URL": f"redis://127.0.0.1:{redis}/0",
        "CALL_API_MEDIA_CONTROLLER_URL": f"http://127.0.0.1:{controller}",
        "CALL_API_DRAIN_GRACE_SECONDS": str(DRAIN_GRACE_SECONDS),
        "CALL_API_GATEWAY_KEYS": f"sip:{hashlib.sha256(gateway_key.encode()).hexdigest()}",
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get(FACTORY_ENV):
        call_api_env["CALL_API_ORCHESTRATOR_FACTORY"] = os.environ[FACTORY_ENV]
    values = {
        "ROOT": str(ROOT),
        "RUN_DIR": str(RUN_DIR),
        "LOG_DIR": str(LOG_DIR),
        "VENV_BIN": str(VENV_BIN),
        "REDIS_SERVER": shutil.which("redis-server") or "/usr/bin/redis-server",
        "NGINX": nginx_binary(),
        "NGINX_PREFIX": str(nginx_prefix),
        "REDIS_PORT": str(redis),
        "MEDIASOUP_PORT": str(mediasoup),
        "MEDIASOUP_SECRET": secrets.token_hex(32),  # per stack
        "MEDIASOUP_WORKER_BIN": mediasoup_worker_bin(),
        "MEDIA_CONTROLLER_PORT": str(controller),
        "CALL_API_1_PORT": str(api1),
        "CALL_API_2_PORT": str(api2),
        "CALL_API_ENV": ",".join(f'{k}="{v}"' for k, v in call_api_env.items()),
        "CALL_API_STOP_WAIT": str(DRAIN_GRACE_SECONDS + 15),
        "SIP_PORT": str(sip),
        "SIP_HEALTH_PORT": str(sip_health),
        "SIP_GATEWAY_ENV": ",".join(
            f'{k}="{v}"'
            for k, v in {
                "SIP_GATEWAY_SIP_PORT": str(sip),
                "SIP_GATEWAY_HEALTH_PORT": str(sip_health),
                "SIP_GATEWAY_CALL_API_URL": f"wss://127.0.0.1:{https}/api/v1/call",
                "SIP_GATEWAY_CALL_API_CA_FILE": str(CERTS_DIR / "ca.crt"),
                "SIP_GATEWAY_CALL_API_TOKEN": gateway_key,
                "SIP_GATEWAY_ALLOW_NETWORKS": "127.0.0.1/32",
                "SIP_GATEWAY_VAR_HEADERS": "X-Customer-Id",
                # SIPp (make demo-sip) does not answer keepalive re-INVITEs: only long calls get one.
                "SIP_GATEWAY_KEEPALIVE_SECONDS": "300",
                "PYTHONUNBUFFERED": "1",
            }.items()
        ),
    }
    CONF.write_text(nginx_render.render_template(TEMPLATE.read_text(), values))
    CONF.chmod(0o600)  # it holds the mediasoup secret

    env = {
        "WSS_URL": f"wss://127.0.0.1:{https}/api/v1/call",
        "CA_FILE": str(CERTS_DIR / "ca.crt"),
        "HTTPS_PORT": str(https),
        "HTTP_PORT": str(http),
        "REDIS_PORT": str(redis),
        "MEDIASOUP_PORT": str(mediasoup),
        "MEDIA_CONTROLLER_PORT": str(controller),
        "CALL_API_1_PORT": str(api1),
        "CALL_API_2_PORT": str(api2),
        "SIP_URI": f"sip:bot@127.0.0.1:{sip}",
        "SIP_PORT": str(sip),
        "SIP_HEALTH_PORT": str(sip_health),
        "SUPERVISOR_SOCKET": str(SOCKET),
        "LOG_DIR": str(LOG_DIR),
    }
    ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return env


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


# --- health ------------------------------------------------------------------------------------


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=1) as resp:
            return 200 <= resp.status < 300
    except OSError:
        return False


def redis_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def health_checks(env: dict[str, str]) -> dict[str, Callable[[], bool]]:
    tls = ssl.create_default_context(cafile=env["CA_FILE"])
    gateway = f"https://127.0.0.1:{env['HTTPS_PORT']}"
    return {
        "redis": lambda: redis_ok(int(env["REDIS_PORT"])),
        "mediasoup": lambda: http_ok(f"http://127.0.0.1:{env['MEDIASOUP_PORT']}/healthz"),
        "media-controller": lambda: http_ok(f"http://127.0.0.1:{env['MEDIA_CONTROLLER_PORT']}/readyz"),
        "call-api-1": lambda: http_ok(f"http://127.0.0.1:{env['CALL_API_1_PORT']}/readyz"),
        "call-api-2": lambda: http_ok(f"http://127.0.0.1:{env['CALL_API_2_PORT']}/readyz"),
        # The gateway itself, then a call-api through it (TLS verified against the local CA).
        "nginx": lambda: http_ok(f"{gateway}/nginx-healthz", tls) and http_ok(f"{gateway}/readyz", tls),
        "sip-gateway": lambda: http_ok(f"http://127.0.0.1:{env['SIP_HEALTH_PORT']}/healthz"),
    }


def log_tail(name: str, lines: int = 40, width: int = 600) -> str:
    path = LOG_DIR / f"{name}.log"
    if not path.exists():
        return "(no log)"
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    # A traceback is one long JSON line: keep its start and its end (the exception itself).
    return "\n".join(
        line if len(line) <= width else f"{line[: width // 3]} … {line[-2 * width // 3 :]}" for line in tail
    )


def wait_healthy(env: dict[str, str], timeout: float) -> None:
    checks = health_checks(env)
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
    env = write_config()
    # The stack's processes get their settings from supervisord.conf only.
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CALL_API_", "MEDIA_CONTROLLER_", "MEDIASOUP_", "SIP_GATEWAY_"))
    }
    subprocess.run([str(VENV_BIN / "supervisord"), "-c", str(CONF)], check=True, env=clean)
    deadline = time.monotonic() + 15
    while not running():
        if time.monotonic() > deadline:
            say(f"supervisord did not start; see {LOG_DIR / 'supervisord.log'}")
            return 1
        time.sleep(0.1)
    try:
        wait_healthy(env, UP_TIMEOUT)
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
    while Path(f"/proc/{pid}").exists():
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
