import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from call_api.app import create_app
from call_api.settings import CacheSettings, Settings
from fastapi import FastAPI

from tests.support.callapi import CallApiServer, factory_path
from tests.support.procs import free_port
from tests.support.redis import RedisServer

# Short limits so the bad-input tests run fast; the behaviour is the same at the defaults.
TEST_ENV = {
    "CALL_API_CALL_START_TIMEOUT": "1.0",
    "CALL_API_MAX_ERRORS_PER_CALL": "5",
    "CALL_API_MAX_FRAME_BYTES": "8192",
}


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("call-api-logs")


@pytest.fixture(scope="session")
def redis_server(log_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(log_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def echo_api(redis_server: RedisServer, log_dir: Path) -> Iterator[CallApiServer]:
    """gunicorn, 2 workers, the echo test orchestrator; shared by the tests that do not kill or drain it."""
    server = CallApiServer(log_dir=log_dir, redis_url=redis_server.url, env=TEST_ENV).start()
    yield server
    server.stop()


@pytest.fixture
def start_call_api(redis_server: RedisServer, log_dir: Path) -> Iterator[Callable[..., CallApiServer]]:
    """Start a dedicated gunicorn (for tests that kill, drain or reconfigure it); stopped afterwards."""
    started: list[CallApiServer] = []

    def start(factory: str = "create_echo_orchestrator", **env: str) -> CallApiServer:
        server = CallApiServer(
            log_dir=log_dir,
            redis_url=redis_server.url,
            factory=factory_path(factory),
            env={**TEST_ENV, **env},
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@contextlib.asynccontextmanager
async def serve_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """settings.bind names the port; the app is served until the block ends."""
    host, port = settings.bind.rsplit(":", 1)
    app = create_app(settings, configure_logging=False)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=int(port), log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if serving.done():
                    serving.result()  # raises the reason it could not start
                await asyncio.sleep(0.01)
        yield app
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await serving


@pytest.fixture
def serve() -> Callable[[Settings], contextlib.AbstractAsyncContextManager[FastAPI]]:
    return serve_app


@pytest.fixture
def echo_settings(tmp_path: Path) -> Iterator[Callable[..., Settings]]:
    """Settings for an in-process app with the echo orchestrator, a Redis of its own and a free
    port; keyword arguments override top-level fields or whole sections (auth=AuthSettings(...))."""
    redis = RedisServer(tmp_path).start()

    def make(**overrides: Any) -> Settings:
        return Settings(
            bind=f"127.0.0.1:{free_port()}",
            cache=CacheSettings(redis_url=redis.url),
            orchestrator_factory=factory_path("create_echo_orchestrator"),
            **overrides,
        )

    yield make
    redis.stop()
