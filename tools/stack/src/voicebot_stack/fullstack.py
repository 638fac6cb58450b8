"""The whole back end: Redis, the mediasoup service, the media-controller and call-api (gunicorn)
running the real Orchestrator, all on loopback with free ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from voicebot_stack.callapi import CallApiServer
from voicebot_stack.media import MediaStack, start_media_stack
from voicebot_stack.redis import RedisServer

REAL_FACTORY = "call_api.orchestrator.factory:create_orchestrator_instance"


@dataclass
class FullStack:
    redis: RedisServer
    media: MediaStack
    call_api: CallApiServer

    def stop(self) -> None:
        self.call_api.stop()
        self.media.stop()
        self.redis.stop()


def start_full_stack(
    tmp_path: Path,
    *,
    call_api_env: Mapping[str, str] | None = None,
    controller_env: Mapping[str, str] | None = None,
    workers: int = 1,
) -> FullStack:
    log_dir = Path(tmp_path) / "logs"
    redis = RedisServer(log_dir).start()
    media = None
    try:
        media = start_media_stack(tmp_path, controller_env=controller_env)
        call_api = CallApiServer(
            log_dir=log_dir,
            redis_url=redis.url,
            factory=REAL_FACTORY,
            workers=workers,
            env={"CALL_API_MEDIA_CONTROLLER_URL": media.controller_url, **(call_api_env or {})},
        ).start(timeout=60)
    except BaseException:
        if media is not None:
            media.stop()
        redis.stop()
        raise
    return FullStack(redis, media, call_api)
