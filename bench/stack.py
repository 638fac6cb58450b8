"""The processes a benchmark runs against: its own redis-server and call-api gunicorn on free
loopback ports (the same helpers as the tests), stopped afterwards."""

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.callapi import CallApiServer, factory_path
from tests.support.redis import RedisServer


@dataclass(frozen=True)
class Stack:
    redis: RedisServer
    call_api: CallApiServer
    log_dir: Path


@contextlib.contextmanager
def running_stack(workers: int, factory: str = "create_echo_orchestrator") -> Iterator[Stack]:
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    redis = RedisServer(log_dir).start()
    # Logs stay at INFO, as in production: their cost is part of what is measured.
    api = CallApiServer(log_dir=log_dir, redis_url=redis.url, factory=factory_path(factory), workers=workers)
    try:
        api.start()
        yield Stack(redis, api, log_dir)
    finally:
        api.stop()
        redis.stop()
