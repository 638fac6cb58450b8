"""One call's /api/v1/call WebSocket (through nginx, TLS verified): call_start, the mediasoup
request/response pairs, and the server's other events as a queue."""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from voicebot_protocol.client import (
    CallAccepted,
    CallFailed,
    CallStart,
    CallStartPayload,
    MediasoupRequest,
    MediasoupRequestPayload,
    MediasoupResponse,
    Message,
    ServerMessage,
    VarValue,
)
from voicebot_protocol.media import CallCodec
from voicebot_protocol.parser import parse_server_message

from sip_gateway.settings import Settings

log = logging.getLogger("sip_gateway.callapi")


class CallRefused(Exception):
    """The call was not started: call_failed, a refused handshake, or call-api unreachable."""

    def __init__(self, code: str | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class MediaRequestFailed(Exception):
    pass


def ssl_context(settings: Settings) -> ssl.SSLContext | bool:
    if not settings.call_api_url.startswith("wss:"):
        return False
    return ssl.create_default_context(cafile=settings.call_api_ca_file)


def handshake_headers(settings: Settings, trace_id: str) -> dict[str, str]:
    headers = {"X-Trace-ID": trace_id}
    if settings.call_api_token is not None:
        headers["Authorization"] = f"Bearer {settings.call_api_token.get_secret_value()}"
    return headers


@dataclass
class CallApiSession:
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    accepted: CallAccepted
    events: asyncio.Queue[ServerMessage | None] = field(default_factory=asyncio.Queue)
    _pending: dict[int, asyncio.Future[MediasoupResponse]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _reader: asyncio.Task[None] | None = None

    def start_reading(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = parse_server_message(frame.data)
                except ValueError:
                    log.warning("unparsable frame from call-api", extra={"frame": str(frame.data)[:200]})
                    continue
                if isinstance(message, MediasoupResponse):
                    future = self._pending.pop(int(message.payload.request_id or 0), None)
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                await self.events.put(message)
        except (aiohttp.ClientError, asyncio.CancelledError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(MediaRequestFailed("call-api connection closed"))
            self._pending.clear()
            await self.events.put(None)  # the socket is gone

    async def send(self, message: Message) -> None:
        if not self.ws.closed:
            await self.ws.send_str(message.to_json())

    async def request(self, method: str, data: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[MediasoupResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        payload = MediasoupRequestPayload(request_id=request_id, method=method, data=data)
        await self.send(MediasoupRequest(payload=payload))
        response = await asyncio.wait_for(future, timeout)
        if not response.payload.ok:
            raise MediaRequestFailed(f"{method}: {response.payload.error}")
        return response.payload.data or {}

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader
        await self.http.close()


async def open_call(
    settings: Settings, call_id: str, trace_id: str, initial_vars: dict[str, VarValue], codec: CallCodec
) -> CallApiSession:
    """Connect, send call_start, wait for call_accepted; CallRefused otherwise."""
    http = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=settings.setup_timeout_seconds)
    )
    try:
        ws = await http.ws_connect(
            settings.call_api_url,
            headers=handshake_headers(settings, trace_id),
            ssl=ssl_context(settings),
            heartbeat=20.0,
            max_msg_size=1024 * 1024,
        )
    except aiohttp.WSServerHandshakeError as error:
        await http.close()
        code = "server_draining" if error.status == 503 else "unauthorized" if error.status == 401 else None
        raise CallRefused(code, f"call-api refused the handshake: HTTP {error.status}") from error
    except (aiohttp.ClientError, OSError) as error:
        await http.close()
        raise CallRefused(None, f"call-api unreachable: {error}") from error
    try:
        start = CallStart(
            payload=CallStartPayload(
                call_id=call_id, trace_id=trace_id, initial_vars=initial_vars, codec=codec
            )
        )
        await ws.send_str(start.to_json())
        frame = await ws.receive(timeout=settings.setup_timeout_seconds)
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise CallRefused(None, f"call-api closed before accepting ({frame.type.name})")
        first = parse_server_message(frame.data)
        if isinstance(first, CallFailed):
            raise CallRefused(first.code, first.reason)
        if not isinstance(first, CallAccepted):
            raise CallRefused(None, f"unexpected first event {first.event}")
    except BaseException:
        await ws.close()
        await http.close()
        raise
    session = CallApiSession(http=http, ws=ws, accepted=first)
    session.start_reading()
    return session
