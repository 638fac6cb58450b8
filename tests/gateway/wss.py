"""A telephony-gateway client for /api/v1/call through nginx: WSS verified against the local CA."""

from __future__ import annotations

import json
import ssl
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.callapi import call_start, recv_json

TRACE_ID = r"[0-9a-f]{32}"


async def connect(
    url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None
) -> ClientConnection:
    return await websockets.connect(
        url, ssl=context, additional_headers=headers or {}, open_timeout=10, max_size=None, proxy=None
    )


async def open_call(
    url: str, context: ssl.SSLContext, call_id: str, headers: dict[str, str] | None = None
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect, send call_start; the socket and its call_accepted (AssertionError on anything else)."""
    ws = await connect(url, context, headers)
    await ws.send(call_start(call_id, contact_name="Gateway"))
    accepted = await recv_json(ws, 10.0)
    if accepted.get("event") != "call_accepted":
        await ws.close()
        raise AssertionError(f"call {call_id} not accepted: {accepted}")
    return ws, accepted


def instance_of(ws: ClientConnection) -> str:
    assert ws.response is not None
    return ws.response.headers["X-Call-Api-Instance"]


def trace_header(ws: ClientConnection) -> str:
    assert ws.response is not None
    return ws.response.headers["X-Trace-ID"]


async def echo(ws: ClientConnection, request_id: int) -> dict[str, Any]:
    """A mediasoup_request the echo orchestrator answers; its mediasoup_response (skipping play_audio)."""
    await ws.send(
        json.dumps(
            {
                "event": "mediasoup_request",
                "payload": {"request_id": request_id, "method": "ping", "data": {}},
            }
        )
    )
    while True:
        message = await recv_json(ws, 10.0)
        if message["event"] == "mediasoup_response":
            return message
        assert message["event"] == "play_audio", message
