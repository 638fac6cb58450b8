"""The controller's HTTP API and events WebSocket refuse requests without the shared secret."""

import aiohttp
import pytest
from aiohttp import web
from media_controller.auth import bearer_matches, check_secret_strength, require_secret

from tests.support.procs import free_port

SECRET = "7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e"


def test_weak_secrets_are_refused_at_start() -> None:
    for weak in (
        "",
        "short",
        "REPLACE-WITH-A-RANDOM-SECRET-OF-LENGTH",
        "a" * 40,
        "change-me-change-me-change-me-1234",
    ):
        with pytest.raises(ValueError):
            check_secret_strength("MEDIA_CONTROLLER_API_SECRET", weak)
    check_secret_strength("MEDIA_CONTROLLER_API_SECRET", SECRET)


def test_bearer_comparison() -> None:
    assert bearer_matches(f"Bearer {SECRET}", SECRET)
    assert not bearer_matches(None, SECRET)
    assert not bearer_matches(f"Bearer {SECRET}x", SECRET)
    assert not bearer_matches(SECRET, SECRET)


async def test_every_route_but_the_probes_needs_the_secret() -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[require_secret(SECRET)])
    for path in ("/healthz", "/readyz", "/v1/stats", "/v1/sessions", "/v1/sessions/x/events"):
        app.router.add_get(path, ok)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with aiohttp.ClientSession() as client:
            base = f"http://127.0.0.1:{port}"
            for probe in ("/healthz", "/readyz"):
                async with client.get(base + probe) as response:
                    assert response.status == 200
            for path in ("/v1/stats", "/v1/sessions", "/v1/sessions/x/events"):
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}):
                    async with client.get(base + path, headers=headers) as response:
                        assert response.status == 401, (path, headers)
                        assert (await response.json())["code"] == "unauthorized"
                async with client.get(base + path, headers={"Authorization": f"Bearer {SECRET}"}) as response:
                    assert response.status == 200
    finally:
        await runner.cleanup()
