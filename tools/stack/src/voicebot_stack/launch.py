"""Start a ServiceSpec as a child process (tests, bench) and wait until its probe says ready."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from voicebot_stack.procs import Proc
from voicebot_stack.specs import ServiceSpec


def process(spec: ServiceSpec, log_dir: Path) -> Proc:
    """The spec's process, not started: <log_dir>/<name>.log, its environment exactly the spec's
    over this process's own less every service setting."""
    return Proc(
        spec.name, spec.command, log_dir=log_dir, env=spec.process_env(), cwd=spec.cwd, inherit_env=False
    )


def start_until_ready(proc: Proc, ready: Callable[[], bool], timeout: float) -> Proc:
    """Start `proc` and wait for `ready`; stopped again if it does not get ready."""
    proc.start()
    try:
        proc.wait_ready(ready, timeout)
    except BaseException:
        proc.stop()
        raise
    return proc


def launch(spec: ServiceSpec, log_dir: Path, timeout: float = 30.0) -> Proc:
    """Start it and wait for its readiness probe."""
    return start_until_ready(process(spec, log_dir), spec.ready, timeout)
