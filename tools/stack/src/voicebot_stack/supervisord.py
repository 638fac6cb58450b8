"""ServiceSpecs rendered as supervisord [program:x] sections (`make up`, infra/stack)."""

from __future__ import annotations

import shlex
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from voicebot_stack.specs import ServiceSpec


def _escape(value: str) -> str:
    # supervisord expands %(name)s in its values: a literal % is written %%.
    return value.replace("%", "%%")


def _environment(env: dict[str, str]) -> str:
    for key, value in env.items():
        if '"' in value or "\n" in value:
            raise ValueError(f"{key}: supervisord cannot quote {value!r}")
    return ",".join(f'{key}="{_escape(value)}"' for key, value in env.items())


def program(spec: ServiceSpec, log_dir: Path) -> str:
    """One program: autorestart (a process that dies is started again, as systemd or Kubernetes
    would), stdout and stderr into <log_dir>/<name>.log."""
    lines = [
        f"[program:{spec.name}]",
        f"command={_escape(shlex.join(spec.command))}",
    ]
    if spec.cwd is not None:
        lines.append(f"directory={_escape(str(spec.cwd))}")
    if spec.env:
        lines.append(f"environment={_environment(dict(spec.env))}")
    run = spec.supervision
    lines += [f"priority={run.priority}", "autorestart=true", f"startsecs={run.startsecs}"]
    if run.stop_wait_s is not None:
        lines.append(f"stopwaitsecs={run.stop_wait_s}")
    if run.stop_as_group:
        lines.append("stopasgroup=true")
    if run.kill_as_group:
        lines.append("killasgroup=true")
    lines += ["redirect_stderr=true", f"stdout_logfile={_escape(str(log_dir / (spec.name + '.log')))}"]
    return "\n".join(lines) + "\n"


def programs(specs: list[ServiceSpec], log_dir: Path) -> str:
    return "\n".join(program(spec, log_dir) for spec in specs)


def rpc(socket: Path) -> Any:
    """supervisord's XML-RPC `supervisor` namespace through its unix socket."""
    transport = SupervisorTransport(None, None, f"unix://{socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor
