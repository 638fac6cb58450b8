"""POST /api/v1/web-token: the browser's call token (origin-checked, rate-limited per client
address, bound to a server-chosen call_id, single use), against a real uvicorn server."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import uvicorn
import websockets
from call_api.app import create_app
from call_api.auth import verify_call_token
from call_api.auth.web_tokens import AddressRateLimiter
from call_api.settings import AuthSettings, CacheSettings, Settings

from tests.support.callapi import call_start, factory_path, recv_json
from tests.support.procs import free_port
from tests.support.redis import RedisServer

SECRET = "w" * 32
StartServer = Callable[..., Awaitable[str]]
ORIGIN = "https://phone.example.com"
WEB_TOKEN = "/api/v1/web-token"


def test_the_limiter_allows_a_burst_then_refills_by_the_clock() -> None:
    limiter = AddressRateLimiter(per_minute=2)
    assert limiter.take("a", now=0.0) == 0 and limiter.take("a", now=0.0) == 0
    wait = limiter.take("a", now=0.0)
    assert wait == pytest.approx(30.0)  # one token every 30 s
    assert limiter.take("b", now=0.0) == 0, "each address has its own bucket"
    assert limiter.take("a", now=29.0) > 0
    assert limiter.take("a", now=31.0) == 0


@pytest.fixture
async def web_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StartServer]:
    redis = RedisServer(tmp_path).start()
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(token_secret: str | None = SECRET, **web_env: str) -> str:
        for name, value in web_env.items():
            monkeypatch.setenv(f"CALL_API_WEB_{name.upper()}", value)
        port = free_port()
        settings = Settings(
            bind=f"127.0.0.1:{port}",
            cache=CacheSettings(redis_url=redis.url),
            orchestrator_factory=factory_path("create_echo_orchestrator"),
            auth=AuthSettings(token_secret=token_secret, allowed_origins=ORIGIN),
        )
        app = create_app(settings, configure_logging=False)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        servers.append((server, asyncio.create_task(server.serve())))
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for "started")
                await asyncio.sleep(0.01)
        return f"127.0.0.1:{port}"

    yield start
    for server, serving in servers:
        server.should_exit = True
        async with asyncio.timeout(10):
            await serving
    redis.stop()


async def post(
    host: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object], dict[str, str]]:
    async with aiohttp.ClientSession() as client:
        async with client.post(f"http://{host}{WEB_TOKEN}", data=b"{}", headers=headers or {}) as response:
            return response.status, await response.json(), dict(response.headers)


async def test_a_listed_origin_gets_a_single_use_token_for_one_server_chosen_call(
    web_server: StartServer,
) -> None:
    host = await web_server()
    status, minted, headers = await post(host, {"Origin": ORIGIN})
    assert status == 201, minted
    assert headers["Cache-Control"] == "no-store"
    claims = verify_call_token(SECRET.encode(), str(minted["token"]))
    assert (claims.gateway_id, claims.call_id) == ("web", minted["call_id"])
    assert minted["gateway_id"] == "web" and str(minted["call_id"]).startswith("web-")
    assert claims.expires_at <= time.time() + 31

    url = f"ws://{host}/api/v1/call?token={minted['token']}"
    async with websockets.connect(url, additional_headers={"Origin": ORIGIN}, proxy=None) as ws:
        await ws.send(call_start(str(minted["call_id"])))
        accepted = await recv_json(ws, 5.0)
        assert accepted["event"] == "call_accepted"
        assert accepted["payload"]["call_id"] == minted["call_id"]
    with pytest.raises(websockets.InvalidStatus) as reused:
        await websockets.connect(url, additional_headers={"Origin": ORIGIN}, open_timeout=5, proxy=None)
    assert reused.value.response.status_code == 401, "a web token is single use"

    _, other, _ = await post(host, {"Origin": ORIGIN})
    async with websockets.connect(
        f"ws://{host}/api/v1/call?token={other['token']}", additional_headers={"Origin": ORIGIN}, proxy=None
    ) as ws:
        await ws.send(call_start("a-call-id-of-my-own"))
        failed = await recv_json(ws, 5.0)
    assert (failed["event"], failed.get("code")) == ("call_failed", "unauthorized")


async def test_other_origins_and_no_origin_are_refused(web_server: StartServer) -> None:
    host = await web_server()
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
        status, body, _ = await post(host, headers)
        assert (status, body["code"]) == (403, "forbidden_origin"), headers


async def test_each_client_address_is_rate_limited(web_server: StartServer) -> None:
    host = await web_server(tokens_per_minute="2")
    first = {"Origin": ORIGIN, "X-Real-IP": "203.0.113.7"}  # set by the gateway (a trusted peer)
    assert (await post(host, first))[0] == 201
    assert (await post(host, first))[0] == 201
    status, body, headers = await post(host, first)
    assert (status, body["code"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 30
    assert (await post(host, {"Origin": ORIGIN, "X-Real-IP": "203.0.113.8"}))[0] == 201


async def test_an_untrusted_peer_cannot_pick_its_address(web_server: StartServer) -> None:
    host = await web_server(tokens_per_minute="1", trusted_proxies="192.0.2.0/24")
    assert (await post(host, {"Origin": ORIGIN, "X-Real-IP": "198.51.100.1"}))[0] == 201
    status, body, _ = await post(host, {"Origin": ORIGIN, "X-Real-IP": "198.51.100.2"})
    assert (status, body["code"]) == (429, "rate_limited"), "X-Real-IP of an untrusted peer is ignored"


async def test_without_a_token_secret_the_endpoint_is_off(web_server: StartServer) -> None:
    host = await web_server(token_secret=None)
    status, body, _ = await post(host, {"Origin": ORIGIN})
    assert (status, body["code"]) == (503, "web_tokens_disabled")
