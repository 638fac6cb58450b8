"""A client that stops reading its WebSocket: its unsent messages are bounded per call
(CALL_API_SEND_QUEUE_BYTES), past the bound the server drops them and closes with 4413
client_not_reading once the client made no progress for CALL_API_SEND_TIMEOUT; another call on
the same worker (gunicorn, one worker) keeps getting its answers all along."""

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from voicebot_callsim import raw
from voicebot_protocol import CloseCode, EndReason
from websockets.asyncio.client import ClientConnection

from tests.support.callapi import CallApiServer, call_start, mediasoup_request, recv_json
from tests.support.redis import RedisServer

PAYLOAD = "x" * 60_000  # each echo answer is as big: the hostile client asks for megabytes
MAX_REQUESTS = 3000  # ≈ 180 MB: far past every buffer on the way, were nothing bounding them
SMALL_BUFFER = 64 * 1024  # the hostile client's socket buffers: its kernel holds little for it


@pytest.fixture
async def one_worker(redis_server: RedisServer, log_dir: Path) -> AsyncIterator[CallApiServer]:
    # The queue full for 2 s ends the call; the close frame then waits 10 s for the client to read.
    env = {"CALL_API_SEND_QUEUE_BYTES": str(128 * 1024), "CALL_API_SEND_TIMEOUT": "2"}
    server = CallApiServer(log_dir=log_dir, redis_url=redis_server.url, workers=1, env=env)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def connect_small(url: str) -> ClientConnection:
    """A WebSocket on a socket with small kernel buffers (a gateway that reads nothing holds
    little in its own kernel, so the server's bound is reached soon)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return await websockets.connect(
        url,
        sock=sock,
        additional_headers=raw.credential_headers(None, raw.FROM_ENV),
        max_size=None,
        compression=None,  # "x" * 60000 deflates to nothing: the bytes must be real
    )


async def echo(ws: ClientConnection, request_id: str) -> None:
    """One request of the well-behaved call, answered (anything else it gets is skipped)."""
    await ws.send(mediasoup_request(request_id, "ping", n=request_id))
    async with asyncio.timeout(20):
        while True:
            message = await recv_json(ws, 20)
            if message["event"] == "mediasoup_response" and message["payload"]["request_id"] == request_id:
                return


async def test_a_client_that_stops_reading_is_closed_and_other_calls_go_on(
    one_worker: CallApiServer,
) -> None:
    polite = await raw.open_call(one_worker.ws_url, "polite")
    hostile = await connect_small(one_worker.ws_url)
    await hostile.send(call_start("hostile"))
    assert (await recv_json(hostile, 10))["event"] == "call_accepted"
    await echo(polite, "before")
    # From now on the hostile client reads nothing at all, not even into its library's buffers.
    hostile.transport.pause_reading()

    async def flood() -> None:  # requests, and never a read of their answers
        for n in range(MAX_REQUESTS):
            await hostile.send(mediasoup_request(n, "echo", blob=PAYLOAD))

    flooding = asyncio.create_task(flood())
    stalled = asyncio.create_task(
        one_worker.log_record("client stopped reading; ending the call", "hostile", timeout=60)
    )
    try:
        answered = 0
        while not stalled.done():  # the polite call is answered all along
            await echo(polite, f"during-{answered}")
            answered += 1
        await stalled
    finally:
        flooding.cancel()
        stalled.cancel()
        await asyncio.gather(flooding, stalled, return_exceptions=True)
    assert answered > 0

    # Reading again, the hostile client gets what was already in flight, then the close.
    hostile.transport.resume_reading()
    code, reason = await raw.expect_close(hostile, timeout=30)
    assert (code, reason) == (CloseCode.CLIENT_NOT_READING, EndReason.CLIENT_NOT_READING)
    for n in range(3):
        await echo(polite, f"after-{n}")
    await polite.send(raw.CALL_TERMINATED)
    assert (await raw.expect_close(polite, timeout=10))[0] == CloseCode.NORMAL
