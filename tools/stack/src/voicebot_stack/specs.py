"""One specification per process of the stack: its command, environment, working directory,
readiness probe and log name. The test harness and the bench start these (`launch.py`); `make up`
renders them into supervisord's config (`supervisord.py`). A setting is edited here, once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from voicebot_stack import credentials, paths
from voicebot_stack.probes import http_ok, port_open, redis_ping

# A process gets its settings from its spec only, never from the caller's environment.
SERVICE_ENV_PREFIXES = ("CALL_API_", "MEDIA_CONTROLLER_", "MEDIASOUP_")


@dataclass(frozen=True)
class Supervision:
    """How supervisord runs the process under `make up` (the harness starts and stops it itself)."""

    priority: int
    startsecs: int = 1
    stop_wait_s: int | None = None
    stop_as_group: bool = False  # its children (mediasoup workers) go with it
    kill_as_group: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # the log file (<name>.log) and supervisord's program name
    command: tuple[str, ...]
    env: Mapping[str, str]
    ready: Callable[[], bool]
    supervision: Supervision
    cwd: Path | None = None

    def process_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) less every service setting, plus the spec's."""
        inherited = os.environ if base is None else base
        clean = {k: v for k, v in inherited.items() if not k.startswith(SERVICE_ENV_PREFIXES)}
        return {**clean, **self.env}

    def named(self, name: str) -> ServiceSpec:
        return replace(self, name=name)


def loopback(port: int, path: str = "", scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{port}{path}"


def redis_url(port: int, password: str | None = None) -> str:
    """The URL call-api uses: the ACL user `voicebot` (the default user is off)."""
    userinfo = f"{credentials.REDIS_USER}:{password}@" if password else ""
    return f"redis://{userinfo}127.0.0.1:{port}/0"


def redis(port: int, password: str | None = None) -> ServiceSpec:
    """A cache with a size bound (LRU); with a password, only the ACL user `voicebot` may log in."""
    acl = (
        (
            "--user",
            "default",
            "off",
            "--user",
            credentials.REDIS_USER,
            "on",
            f">{password}",
            "~*",
            "&*",
            "+@all",
        )
        if password
        else ()
    )
    command = (
        paths.redis_server_bin(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--maxmemory", "256mb",
        "--maxmemory-policy", "allkeys-lru",
        *acl,
    )  # fmt: skip
    return ServiceSpec(
        name="redis",
        command=command,
        env={},
        ready=lambda: redis_ping(port),
        supervision=Supervision(priority=10),
    )


def mediasoup(port: int, secret: str, workers: int = 1) -> ServiceSpec:
    """The Node mediasoup service with the built worker (see paths.mediasoup_worker_bin)."""
    env = {
        "MEDIASOUP_SERVICE_PORT": str(port),
        "MEDIASOUP_SERVICE_SECRET": secret,
        "MEDIASOUP_WORKERS": str(workers),
        "LOG_LEVEL": "info",
    }
    worker = paths.mediasoup_worker_bin()
    if worker:
        env["MEDIASOUP_WORKER_BIN"] = worker
    return ServiceSpec(
        name="mediasoup",
        command=(paths.node_bin(), str(paths.MEDIASOUP_DIR / "index.js")),
        env=env,
        cwd=paths.MEDIASOUP_DIR,
        ready=lambda: http_ok(loopback(port, "/healthz")),
        supervision=Supervision(priority=20, startsecs=2, stop_as_group=True, kill_as_group=True),
    )


def media_controller(
    port: int, mediasoup_port: int, secret: str, extra_env: Mapping[str, str] | None = None
) -> ServiceSpec:
    env = {
        "MEDIA_CONTROLLER_API_SECRET": credentials.local().media_api_secret,
        "MEDIA_CONTROLLER_PORT": str(port),
        "MEDIA_CONTROLLER_MEDIASOUP_URL": loopback(mediasoup_port, "/", "ws"),
        "MEDIA_CONTROLLER_MEDIASOUP_SECRET": secret,
        "MEDIA_CONTROLLER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    return ServiceSpec(
        name="media-controller",
        command=(str(paths.VENV_BIN / "python"), "-m", "media_controller"),
        env=env,
        ready=lambda: http_ok(loopback(port, "/readyz")),
        supervision=Supervision(priority=30, startsecs=2),
    )


def call_api(
    port: int,
    *,
    instance: str,
    redis_url: str,
    workers: int,
    factory: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    stop_wait_s: int | None = None,
) -> ServiceSpec:
    """call-api under gunicorn. The repository root is on PYTHONPATH so that an orchestrator
    factory of the test support code (tests.support.factories:...) imports."""
    env = {
        **credentials.local().call_api_env(),
        "CALL_API_BIND": f"127.0.0.1:{port}",
        "CALL_API_WORKERS": str(workers),
        "CALL_API_REDIS_URL": redis_url,
        "CALL_API_INSTANCE_NAME": instance,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(paths.REPO_ROOT),
        **({"CALL_API_ORCHESTRATOR_FACTORY": factory} if factory else {}),
        **(extra_env or {}),
    }
    return ServiceSpec(
        name=instance,
        command=(str(paths.VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"),
        env=env,
        cwd=paths.CALL_API_DIR,
        ready=lambda: http_ok(loopback(port, "/readyz")),
        # gunicorn drains on SIGTERM (graceful_timeout = grace + 10 s): stop_wait_s covers that.
        supervision=Supervision(priority=40, startsecs=3, stop_wait_s=stop_wait_s, kill_as_group=True),
    )


def nginx(prefix: Path, conf: Path, https_port: int, http_port: int) -> ServiceSpec:
    """The TLS gateway (a config rendered by infra/nginx/render.py). Ready once both ports accept:
    a probe by HTTP request would count against the per-IP request limit the tests measure."""
    command = (paths.nginx_bin(), "-p", str(prefix), "-c", str(conf), "-e", "stderr", "-g", "daemon off;")
    return ServiceSpec(
        name="nginx",
        command=command,
        env={},
        ready=lambda: port_open(https_port) and port_open(http_port),
        supervision=Supervision(priority=50),
    )
