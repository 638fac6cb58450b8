"""One call as a telephony gateway places it: WSS, call_start, signalling, RTP both ways, events."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from voicebot_protocol import CallAccepted, CallFailed, parse_server_message

from voicebot_callsim import raw
from voicebot_callsim.events import Arrival, EventLog
from voicebot_callsim.legs import GatewayLegs, connect_gateway
from voicebot_callsim.rtp import CallerVoice


def named(name: str, **payload: Any) -> Callable[[Event], bool]:
    """A predicate: a server message of this name whose payload has these values."""

    def matches(event: Event) -> bool:
        if event.name != name:
            return False
        body = event.message.get("payload") or {}
        return all(body.get(k) == v for k, v in payload.items())

    return matches


class CallRefused(Exception):
    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(message.get("reason") or str(message))
        self.message = message


@dataclass(frozen=True)
class Event(Arrival[dict[str, Any]]):
    """A server message with its arrival time."""

    @property
    def message(self) -> dict[str, Any]:
        return self.event

    @property
    def name(self) -> str:
        return str(self.event.get("event"))


def new_event_log() -> EventLog[Event]:
    return EventLog(Event)


@dataclass
class GatewayCall:
    url: str
    call_id: str
    initial_vars: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    ca_file: str | None = None
    token: str | raw._FromEnvironment | None = raw.FROM_ENV  # the gateway credential (docs/security.md)
    events: EventLog[Event] = field(default_factory=new_event_log)
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
        self._request_ids = itertools.count(1)

    # --- connection ----------------------------------------------------------------------------

    async def start(self, open_timeout: float = 10.0) -> None:
        """Connect, send call_start, wait for call_accepted (CallRefused on call_failed)."""
        headers = {"X-Trace-ID": self.trace_id} if self.trace_id else {}
        self.connect_started = time.monotonic()
        self._ws = await raw.connect(
            self.url,
            headers,
            ca_file=self.ca_file,
            open_timeout=open_timeout,
            max_size=2**22,
            token=self.token,
        )
        self.response_headers = {k.lower(): v for k, v in self._ws.response.headers.raw_items()}
        self._reader = asyncio.create_task(self._read(), name=f"callsim-{self.call_id}")
        await self._ws.send(raw.call_start(self.call_id, self.trace_id, **self.initial_vars))
        first = await self.events.wait(lambda e: e.name in ("call_accepted", "call_failed"), open_timeout)
        if first.name == "call_failed":
            raise CallRefused(first.message)
        self.accepted_at = first.at
        accepted = parse_server_message(json.dumps(first.message))
        assert isinstance(accepted, CallAccepted | CallFailed)
        self.trace_id = accepted.payload.trace_id if isinstance(accepted, CallAccepted) else self.trace_id

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                self.events.add(json.loads(frame))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.closed.set()
            self.events.close(f"call {self.call_id} closed ({self.close_code}) while waiting")

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def wait_event(self, name: str, timeout: float, since: int = 0, **payload: Any) -> Event:
        """The first event of this name (from index `since`) whose payload has these values."""
        return await self.events.wait(named(name, **payload), timeout, since)

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
