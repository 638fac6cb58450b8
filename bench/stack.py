"""The processes a benchmark runs against, on free loopback ports, started from the same service
specifications as the tests and `make up` (voicebot_stack): redis-server + call-api gunicorn
(optionally behind the nginx TLS gateway), the media stack, or the full stack. Each is stopped when
its `with` block ends."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voicebot_stack.callapi import CallApiServer, factory_path
from voicebot_stack.fullstack import FullStack, start_full_stack
from voicebot_stack.media import MediaStack, start_media_stack
from voicebot_stack.nginx import NginxGateway, make_certs
from voicebot_stack.redis import RedisServer


@dataclass(frozen=True)
class Stack:
    redis: RedisServer
    call_api: CallApiServer
    log_dir: Path


@contextlib.contextmanager
def running_stack(
    workers: int, factory: str = "create_echo_orchestrator", log_dir: Path | None = None
) -> Iterator[Stack]:
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-"))
    redis = RedisServer(log_dir).start()
    # Logs stay at INFO, as in production: their cost is part of what is measured.
    api = CallApiServer(log_dir=log_dir, redis_url=redis.url, factory=factory_path(factory), workers=workers)
    try:
        api.start()
        yield Stack(redis, api, log_dir)
    finally:
        api.stop()
        redis.stop()


@dataclass(frozen=True)
class GatewayStack:
    stack: Stack
    nginx: NginxGateway

    @property
    def wss_url(self) -> str:
        return self.nginx.wss_url

    @property
    def ca_file(self) -> str:
        return str(self.nginx.certs.ca)


@contextlib.contextmanager
def gateway_stack(workers: int, log_dir: Path, **nginx_overrides: object) -> Iterator[GatewayStack]:
    """call-api (echo orchestrator) behind the real nginx TLS gateway (infra/nginx's template;
    `nginx_overrides` are render.local's settings, e.g. the per-IP limits)."""
    certs = make_certs(log_dir / "certs")
    with running_stack(workers, log_dir=log_dir / "callapi") as stack:
        upstream = f"127.0.0.1:{stack.call_api.port}"
        with NginxGateway(log_dir / "nginx", certs, [upstream], **nginx_overrides) as nginx:
            yield GatewayStack(stack, nginx)


@contextlib.contextmanager
def media_stack(log_dir: Path, workers: int = 1) -> Iterator[MediaStack]:
    media = start_media_stack(log_dir, workers=workers)
    try:
        yield media
    finally:
        media.stop()


@contextlib.contextmanager
def full_stack(
    log_dir: Path, workers: int = 1, call_api_env: dict[str, str] | None = None
) -> Iterator[FullStack]:
    """Redis + mediasoup service + media-controller + call-api with the real Orchestrator."""
    stack = start_full_stack(log_dir, workers=workers, call_api_env=call_api_env)
    try:
        yield stack
    finally:
        stack.stop()
