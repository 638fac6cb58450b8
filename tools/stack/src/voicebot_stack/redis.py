"""A real redis-server on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import secrets
from pathlib import Path

from voicebot_stack import specs
from voicebot_stack.launch import launch
from voicebot_stack.probes import redis_ping
from voicebot_stack.procs import Proc, free_port, wait_until


class RedisServer:
    """start/stop/restart keep the same port, so clients can reconnect to the same URL."""

    def __init__(self, log_dir: Path, port: int | None = None, password: str | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.port = port or free_port()
        self.password = password if password is not None else secrets.token_hex(16)
        self.proc: Proc | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return specs.redis_url(self.port, self.password)

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.starts += 1
        spec = specs.redis(self.port, self.password).named(
            f"redis-{self.port}-{self.starts}"
        )  # one log per start
        self.proc = launch(spec, self.log_dir, timeout)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            wait_until(lambda: not redis_ping(self.port, 0.1), 5.0, "redis to stop answering")

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
