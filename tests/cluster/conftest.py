from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebot_stack.callapi import CallApiServer
from voicebot_stack.fullstack import REAL_FACTORY
from voicebot_stack.redis import RedisServer

from tests.cluster.nodes import forget_all


@pytest.fixture(scope="module")
def cluster_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("cluster-redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster_api(
    tmp_path_factory: pytest.TempPathFactory, cluster_redis: RedisServer
) -> Iterator[CallApiServer]:
    """call-api placing calls from the registry. Its static fallback names no live controller: a
    call placed there would fail, so every placement these tests see came from the registry."""
    server = CallApiServer(
        log_dir=Path(tmp_path_factory.mktemp("cluster-api")),
        redis_url=cluster_redis.url,
        factory=REAL_FACTORY,
        workers=1,
        env={
            "CALL_API_MEDIA_DISCOVERY": "registry",
            "CALL_API_MEDIA_CONTROLLER_URL": "http://127.0.0.1:9",
            # A call without a bot leg waits for one instead of greeting into nothing.
            "CALL_API_MEDIA_READY_TIMEOUT": "600",
        },
    ).start(timeout=60)
    yield server
    server.stop()


@pytest.fixture
def fresh_registry(cluster_redis: RedisServer) -> Iterator[RedisServer]:
    forget_all(cluster_redis)
    yield cluster_redis
    forget_all(cluster_redis)
