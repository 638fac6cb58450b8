from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.callapi import CallApiServer, factory_path
from tests.support.nginx import Certs, NginxGateway, make_certs
from tests.support.redis import RedisServer

StartGateway = Callable[..., tuple[NginxGateway, list[CallApiServer]]]


@pytest.fixture(scope="session")
def gw_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway-logs")


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def gw_redis(gw_log_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(gw_log_dir).start()
    yield server
    server.stop()


@pytest.fixture
def start_gateway(
    gw_redis: RedisServer, gw_log_dir: Path, certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartGateway]:
    """Two call-api instances (1 worker each, the echo orchestrator) behind a real nginx; all
    stopped afterwards. For tests that stop or drain an instance."""
    started: list[CallApiServer | NginxGateway] = []

    def start(
        nginx_overrides: dict[str, Any] | None = None, **env: str
    ) -> tuple[NginxGateway, list[CallApiServer]]:
        apis = []
        for _ in range(2):
            api = CallApiServer(
                log_dir=gw_log_dir,
                redis_url=gw_redis.url,
                factory=factory_path("create_echo_orchestrator"),
                workers=1,
                env=env,
            )
            started.append(api)
            apis.append(api.start())
        nginx = NginxGateway(
            tmp_path_factory.mktemp("nginx"),
            certs,
            [f"127.0.0.1:{api.port}" for api in apis],
            **(nginx_overrides or {}),
        )
        started.append(nginx)
        return nginx.start(), apis

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture(scope="module")
def gateway(
    gw_redis: RedisServer, gw_log_dir: Path, certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[NginxGateway, list[CallApiServer]]]:
    """A shared gateway for the tests that leave both instances running."""
    apis = [
        CallApiServer(
            log_dir=gw_log_dir,
            redis_url=gw_redis.url,
            factory=factory_path("create_echo_orchestrator"),
            workers=1,
        )
        for _ in range(2)
    ]
    nginx = NginxGateway(tmp_path_factory.mktemp("nginx"), certs, [f"127.0.0.1:{api.port}" for api in apis])
    try:
        for api in apis:
            api.start()
        nginx.start()
        yield nginx, apis
    finally:
        nginx.stop()
        for api in apis:
            api.stop()
