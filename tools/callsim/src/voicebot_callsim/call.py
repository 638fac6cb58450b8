"""One call as a telephony gateway places it: WSS, call_start, signalling, RTP both ways, events."""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from voicebot_protocol import CallAccepted, CallFailed, parse_server_message
from voicebot_protocol.client import CallStartPayload

from voicebot_callsim.legs import GatewayLegs, connect_gateway
from voicebot_callsim.rtp import CallerVoice


class CallRefused(Exception):
    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(message.get("reason") or str(message))
        self.message = message


@dataclass
class Event:
    at: float  # monotonic
    message: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.message.get("event"))


@dataclass
class GatewayCall:
    url: str
    call_id: str
    initial_vars: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    ca_file: str | None = None
    events: list[Event] = field(default_factory=list)
    connect_started: float = 0.0
    accepted_at: float = 0.0
    response_headers: dict[str, str] = field(default_factory=dict)
    legs: GatewayLegs | None = None
    voice: CallerVoice | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None

    def __post_init__(self) -> None:
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._request_ids = itertools.count(1)

    # --- connection ----------------------------------------------------------------------------

    async def start(self, open_timeout: float = 10.0) -> None:
        """Connect, send call_start, wait for call_accepted (CallRefused on call_failed)."""
        headers = {"X-Trace-ID": self.trace_id} if self.trace_id else {}
        context = None
        if self.url.startswith("wss://"):
            context = ssl.create_default_context(cafile=self.ca_file)
        self.connect_started = time.monotonic()
        self._ws = await websockets.connect(
            self.url,
            additional_headers=headers,
            ssl=context,
            open_timeout=open_timeout,
            max_size=2**22,
            proxy=None,
        )
        self.response_headers = {k.lower(): v for k, v in self._ws.response.headers.raw_items()}
        self._reader = asyncio.create_task(self._read(), name=f"callsim-{self.call_id}")
        payload = CallStartPayload(
            call_id=self.call_id, trace_id=self.trace_id, initial_vars=self.initial_vars
        )
        await self._ws.send(
            json.dumps({"event": "call_start", "payload": payload.model_dump(exclude_none=True)})
        )
        first = await self.wait_for(lambda e: e.name in ("call_accepted", "call_failed"), open_timeout)
        if first.name == "call_failed":
            raise CallRefused(first.message)
        self.accepted_at = first.at
        accepted = parse_server_message(json.dumps(first.message))
        assert isinstance(accepted, CallAccepted | CallFailed)
        self.trace_id = accepted.payload.trace_id if isinstance(accepted, CallAccepted) else self.trace_id

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                self.events.append(Event(time.monotonic(), message))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.closed.set()
            self._changed.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def wait_for(self, predicate: Any, timeout: float, since: int = 0) -> Event:
        """The first event (from index `since`) matching predicate; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            index = since
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if predicate(event):
                        return event
                if self.closed.is_set():
                    raise ConnectionError(f"call {self.call_id} closed ({self.close_code}) while waiting")
                self._changed.clear()
                await self._changed.wait()

    async def wait_event(self, name: str, timeout: float, since: int = 0, **payload: Any) -> Event:
        def matches(event: Event) -> bool:
            if event.name != name:
                return False
            body = event.message.get("payload") or {}
            return all(body.get(k) == v for k, v in payload.items())

        return await self.wait_for(matches, timeout, since)

    # --- signalling and media ---------------------------------------------------------------------

    async def signal(self, method: str, data: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        request_id = f"r{next(self._request_ids)}"
        since = len(self.events)
        await self.send(
            {
                "event": "mediasoup_request",
                "payload": {"request_id": request_id, "method": method, "data": data},
            }
        )
        answer = await self.wait_event("mediasoup_response", timeout, since, request_id=request_id)
        body = answer.message["payload"]
        if not body.get("ok", True):
            raise RuntimeError(f"{method} refused: {body.get('error')}")
        return dict(body.get("data") or {})

    async def setup_media(self) -> GatewayLegs:
        self.legs = await connect_gateway(self.signal)
        self.voice = CallerVoice(self.legs.sender)
        self.voice.start()
        return self.legs

    async def say(self, pcm: bytes, rate: int) -> float:
        assert self.voice is not None, "setup_media() first"
        return await self.voice.say(pcm, rate)

    async def terminate(self, timeout: float = 5.0) -> None:
        if not self.closed.is_set():
            try:
                await self.send({"event": "call_terminated"})
            except websockets.ConnectionClosed:
                pass
            try:
                async with asyncio.timeout(timeout):
                    await self.closed.wait()
            except TimeoutError:
                await self._ws.close()
        await self.aclose()

    async def aclose(self) -> None:
        if self.voice is not None:
            await self.voice.stop()
        if self.legs is not None:
            self.legs.close()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    def transcript(self) -> list[tuple[str, str]]:
        """(role, text) of both sides; a bot turn the caller talked over ends in "— [cut off]"."""
        lines = []
        for event in self.events:
            if event.name == "transcript":
                body = event.message["payload"]
                lines.append(
                    (body["role"], body["text"] + (" — [cut off]" if body.get("interrupted") else ""))
                )
        return lines
