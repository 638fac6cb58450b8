"""The gateway client's raw-frame mode, for protocol tests: a plain WebSocket to /api/v1/call on
which any text or binary frame can be sent (`ws.send`), raw replies read and the server's close
code seen. GatewayCall (call.py) runs the whole protocol over the same connection.

    ws = await connect(url, ssl=context)            # websockets' ClientConnection
    await ws.send(call_start("c1", contact_name="Ann"))
    accepted = await recv_json(ws)
    await ws.send(b"\\x00 not json")                 # anything at all
    code, reason = await expect_close(ws)
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl as ssl_module
from typing import Any

import websockets
from voicebot_protocol.client import CallStartPayload
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

TRACE_ID = r"[0-9a-f]{32}"
GATEWAY_TOKEN_ENV = "VOICEBOT_GATEWAY_TOKEN"


class _FromEnvironment:
    def __repr__(self) -> str:
        return f"${GATEWAY_TOKEN_ENV}"


FROM_ENV = _FromEnvironment()  # the default credential: $VOICEBOT_GATEWAY_TOKEN, if set


def credential_headers(
    headers: dict[str, str] | None, token: str | _FromEnvironment | None
) -> dict[str, str]:
    """`Authorization: Bearer <token>` unless the caller set one; token=None sends none at all."""
    merged = dict(headers or {})
    if isinstance(token, _FromEnvironment):
        token = os.environ.get(GATEWAY_TOKEN_ENV) or None
    if token and not any(k.lower() == "authorization" for k in merged):
        merged["Authorization"] = f"Bearer {token}"
    return merged


def tls_context(ca_file: str | None) -> ssl_module.SSLContext:
    """Verify the gateway's certificate against this CA (the system's when None)."""
    return ssl_module.create_default_context(cafile=ca_file)


async def connect(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    ssl: ssl_module.SSLContext | None = None,
    ca_file: str | None = None,
    open_timeout: float = 10.0,
    max_size: int | None = None,
    token: str | _FromEnvironment | None = FROM_ENV,
) -> ClientConnection:
    """A WebSocket to the call-api or the gateway; never through an HTTP proxy from the environment.
    wss:// URLs verify the server against `ssl` (or a context of `ca_file`). The gateway
    credential: `token`, by default $VOICEBOT_GATEWAY_TOKEN (token=None: none, to test refusals)."""
    if ssl is None and url.startswith("wss://"):
        ssl = tls_context(ca_file)
    return await websockets.connect(
        url,
        additional_headers=credential_headers(headers, token),
        ssl=ssl,
        open_timeout=open_timeout,
        max_size=max_size,
        proxy=None,
    )


async def recv_frame(ws: ClientConnection, timeout: float = 5.0) -> str | bytes:
    """The next frame as it came (raises TimeoutError / ConnectionClosed)."""
    async with asyncio.timeout(timeout):
        return await ws.recv()


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next server message as a dict (raises TimeoutError / ConnectionClosed)."""
    message: dict[str, Any] = json.loads(await recv_frame(ws, timeout))
    return message


async def expect_close(ws: ClientConnection, timeout: float = 5.0) -> tuple[int, str]:
    """Wait for the server to close, skipping any message before; (code, reason) of its close
    frame (1006 if it sent none)."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return 1006, ""
            return closed.rcvd.code, closed.rcvd.reason


# --- messages (their payloads are libs/protocol's models) -----------------------------------------


def call_start(call_id: str, trace_id: str | None = None, **initial_vars: Any) -> str:
    payload = CallStartPayload(call_id=call_id, trace_id=trace_id, initial_vars=initial_vars)
    return json.dumps({"event": "call_start", "payload": payload.model_dump(exclude_none=True)})


def mediasoup_request(request_id: int | str, method: str = "router.getRtpCapabilities", **data: Any) -> str:
    payload = {"request_id": request_id, "method": method, "data": data}
    return json.dumps({"event": "mediasoup_request", "payload": payload})


CALL_TERMINATED = json.dumps({"event": "call_terminated"})


async def start_call(
    url: str,
    call_id: str,
    headers: dict[str, str] | None = None,
    *,
    ssl: ssl_module.SSLContext | None = None,
    **initial_vars: Any,
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect, send call_start; the socket and its call_accepted (AssertionError on anything else)."""
    ws = await connect(url, headers, ssl=ssl)
    await ws.send(call_start(call_id, **initial_vars))
    accepted = await recv_json(ws, 10.0)
    if accepted.get("event") != "call_accepted":
        await ws.close()
        raise AssertionError(f"call {call_id} not accepted: {accepted}")
    return ws, accepted


async def open_call(
    url: str,
    call_id: str,
    headers: dict[str, str] | None = None,
    *,
    ssl: ssl_module.SSLContext | None = None,
    **initial_vars: Any,
) -> ClientConnection:
    """start_call's socket alone."""
    ws, _ = await start_call(url, call_id, headers, ssl=ssl, **initial_vars)
    return ws


# --- the handshake's response headers ----------------------------------------------------------


def response_header(ws: ClientConnection, name: str) -> str:
    assert ws.response is not None
    return ws.response.headers[name]


def instance_of(ws: ClientConnection) -> str:
    """The call-api instance that took the connection (the gateway's X-Call-Api-Instance)."""
    return response_header(ws, "X-Call-Api-Instance")


def trace_header(ws: ClientConnection) -> str:
    return response_header(ws, "X-Trace-ID")


async def mediasoup_exchange(
    ws: ClientConnection,
    request_id: int | str,
    method: str,
    timeout: float = 10.0,
    skipping: tuple[str, ...] = ("play_audio",),
    **data: Any,
) -> dict[str, Any]:
    """Send a mediasoup_request; its mediasoup_response, after any of the `skipping` events
    (AssertionError on another message)."""
    await ws.send(mediasoup_request(request_id, method, **data))
    while True:
        message = await recv_json(ws, timeout)
        if message["event"] == "mediasoup_response":
            return message
        assert message["event"] in skipping, message
