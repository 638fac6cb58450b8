"""The page and its token endpoint through the real nginx gateway (TLS): the page's files with
their headers, tokens only for the page's own origin, single use on the WSS handshake."""

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import websockets

from tests.browser.stack import BrowserStack
from tests.support.callapi import call_start, recv_json


def https(
    stack: BrowserStack, path: str, *, method: str = "GET", origin: str | None = None
) -> tuple[int, Any, bytes]:
    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = origin
    request = urllib.request.Request(
        stack.nginx.https_url + path, method=method, headers=headers, data=b"{}" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(request, context=stack.nginx.ssl_context(), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wss_url(stack: BrowserStack, token: str) -> str:
    return f"{stack.nginx.wss_url}?token={token}"


async def connect(stack: BrowserStack, token: str, origin: str) -> Any:
    return await websockets.connect(
        wss_url(stack, token),
        ssl=stack.nginx.ssl_context(),
        additional_headers={"Origin": origin},
        open_timeout=10,
        proxy=None,
    )


def test_the_page_is_served_on_the_calls_origin(stack: BrowserStack) -> None:
    status, headers, body = https(stack, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script src="app.js"></script>' in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert len(headers["X-Trace-ID"]) == 32
    status, headers, body = https(stack, "/app.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert b"voicebot" in body
    assert https(stack, "/no-such-file")[0] == 404
    assert https(stack, "/api/v1/web-token")[0] == 403, "only POST reaches the token endpoint"


async def test_tokens_only_for_the_pages_origin_and_only_once(stack: BrowserStack) -> None:
    status, _, body = https(stack, "/api/v1/web-token", method="POST", origin="https://evil.example")
    assert (status, json.loads(body)["code"]) == (403, "forbidden_origin")

    status, headers, body = https(stack, "/api/v1/web-token", method="POST", origin=stack.origin)
    assert status == 201, body
    assert headers["Cache-Control"] == "no-store"
    minted = json.loads(body)
    ws = await connect(stack, minted["token"], stack.origin)
    try:
        await ws.send(call_start(minted["call_id"]))
        accepted = await recv_json(ws, 10)
        assert accepted["event"] == "call_accepted" and accepted["payload"]["call_id"] == minted["call_id"]
    finally:
        await ws.close()
    with pytest.raises(websockets.InvalidStatus) as reused:
        await connect(stack, minted["token"], stack.origin)
    assert reused.value.response.status_code == 401, "a web token is single use"

    _, _, body = https(stack, "/api/v1/web-token", method="POST", origin=stack.origin)
    with pytest.raises(websockets.InvalidStatus) as elsewhere:
        await connect(stack, json.loads(body)["token"], "https://evil.example")
    assert elsewhere.value.response.status_code == 403, "another origin cannot use the page's token"
