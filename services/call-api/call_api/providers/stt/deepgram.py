"""Cloud STT: Deepgram live streaming over a WebSocket, one connection per utterance.

    wss://api.deepgram.com/v1/listen?encoding=linear16&sample_rate=16000&channels=1
        &interim_results=true&endpointing=300&model=...     (header Authorization: Token KEY)
    → binary frames of PCM;  {"type": "KeepAlive"} while no audio flows;  {"type": "CloseStream"} to end
    ← {"type": "Results", "is_final": bool, "speech_final": bool,
       "channel": {"alternatives": [{"transcript": "..."}]}, ...}, then Metadata, then close.

The transcript is the final segments joined, plus the current interim one for partials. The
expected phrases are sent as hints (keyterm for nova-3 models, keywords for older ones).
Failures (handshake refused, connection dropped, no close after CloseStream in time) raise
ProviderError("stt", ...) from feed()/finish() — never a hang."""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from urllib.parse import urlencode

import aiohttp

from call_api.providers.base import ProviderError, SttResult
from call_api.providers.deadline import bounded
from call_api.providers.http import shared_session, within
from call_api.providers.text import normalize

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://api.deepgram.com/v1/listen"
MAX_HINTS = 20


def listen_url(base_url: str, model: str, endpointing_ms: int, phrases: Sequence[str]) -> str:
    params: list[tuple[str, str]] = [
        ("encoding", "linear16"),
        ("sample_rate", "16000"),
        ("channels", "1"),
        ("interim_results", "true"),
        ("endpointing", str(endpointing_ms)),
        ("punctuate", "true"),
        ("model", model),
    ]
    hints = list(dict.fromkeys(normalize(p) for p in phrases if normalize(p)))
    if model.startswith("nova-3"):
        params += [("keyterm", hint) for hint in hints[:MAX_HINTS]]
    else:
        words = list(dict.fromkeys(word for hint in hints for word in hint.split()))
        params += [("keywords", word) for word in words[:MAX_HINTS]]
    return f"{base_url}?{urlencode(params)}"


class DeepgramSession:
    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        send_timeout: float,
        finish_timeout: float,
        keepalive: float,
    ) -> None:
        self._ws = ws
        self._send_timeout = send_timeout
        self._finish_timeout = finish_timeout
        self._keepalive_every = keepalive
        self._finals: list[str] = []
        self._interim = ""
        self._reported = ""
        self._closing = False  # CloseStream sent: a close from the server is the normal end
        self._ended = asyncio.Event()
        self._error: ProviderError | None = None
        self._last_audio = time.monotonic()
        self._reader = asyncio.create_task(self._read(), name="deepgram-reader")
        self._keepalive = asyncio.create_task(self._keep_alive(), name="deepgram-keepalive")

    def _text(self) -> str:
        return " ".join(part for part in (*self._finals, self._interim) if part)

    async def _read(self) -> None:
        close_note = ""
        try:
            while True:
                message = await self._ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._on_message(message.data)
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
                    close_note = f"code {message.data} {message.extra or ''}".strip()
                    break
                elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    close_note = f"connection lost: {message.data or ''}".strip()
                    break
        except Exception as error:  # a broken transport: reported as the session's error
            self._error = ProviderError("stt", f"deepgram connection failed: {error}")
        finally:
            if not self._closing and self._error is None:
                self._error = ProviderError("stt", f"deepgram closed the stream ({close_note})")
            self._ended.set()

    def _on_message(self, data: str) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("deepgram sent a malformed message", extra={"data": data[:200]})
            return
        if event.get("type") == "Results":
            alternatives = (event.get("channel") or {}).get("alternatives") or [{}]
            transcript = (alternatives[0].get("transcript") or "").strip()
            if event.get("is_final"):
                if transcript:
                    self._finals.append(transcript)
                self._interim = ""
            else:
                self._interim = transcript
        elif event.get("type") == "Error" or "err_code" in event:
            self._error = ProviderError(
                "stt", f"deepgram error {event.get('err_code', '')}: {event.get('description', data[:200])}"
            )

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_every / 2)
            if time.monotonic() - self._last_audio >= self._keepalive_every and not self._ws.closed:
                with contextlib.suppress(Exception):
                    await self._ws.send_str(json.dumps({"type": "KeepAlive"}))

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if self._ended.is_set() and not self._closing:
            raise ProviderError("stt", "deepgram stream is closed")

    async def feed(self, pcm: bytes) -> SttResult | None:
        self._raise_if_failed()
        if self._closing:
            raise ProviderError("stt", "feed() on a finished session")
        try:
            await within(self._ws.send_bytes(pcm), self._send_timeout, "stt", "sending audio to deepgram")
        except ProviderError:
            # The server probably closed the stream: its reason beats "cannot write".
            with contextlib.suppress(TimeoutError):
                await bounded(self._ended.wait(), self._send_timeout)
            self._raise_if_failed()
            raise
        self._last_audio = time.monotonic()
        text = self._text()
        if text and text != self._reported:
            self._reported = text
            return SttResult(text=text, final=False)
        return None

    async def finish(self) -> SttResult:
        self._raise_if_failed()
        self._closing = True
        try:
            await within(
                self._ws.send_str(json.dumps({"type": "CloseStream"})),
                self._send_timeout,
                "stt",
                "ending the stream",
            )
            await within(
                self._ended.wait(), self._finish_timeout, "stt", "waiting for deepgram's final result"
            )
            if self._error is not None:
                raise self._error
            return SttResult(text=" ".join(self._finals), final=True)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        self._closing = True
        for task in (self._keepalive, self._reader):
            task.cancel()
        await asyncio.gather(self._keepalive, self._reader, return_exceptions=True)
        if not self._ws.closed:
            with contextlib.suppress(Exception):
                await bounded(self._ws.close(), self._send_timeout)


class DeepgramSTT:
    final_timeout: float | None = None
    name = "deepgram"

    def __init__(
        self,
        *,
        api_key: str,
        url: str = DEFAULT_URL,
        model: str = "nova-2",
        endpointing_ms: int = 300,
        connect_timeout: float = 3.0,
        send_timeout: float = 3.0,
        finish_timeout: float = 5.0,
        keepalive_seconds: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.api_key = api_key
        self.url = url
        self.model = model
        self.endpointing_ms = endpointing_ms
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.finish_timeout = finish_timeout
        self.keepalive_seconds = keepalive_seconds
        self._session = session

    async def open(self, phrases: Sequence[str] = ()) -> DeepgramSession:
        session = self._session or shared_session()
        url = listen_url(self.url, self.model, self.endpointing_ms, phrases)
        connect = session.ws_connect(
            url, headers={"Authorization": f"Token {self.api_key}"}, heartbeat=None, autoping=True
        )
        try:
            ws = await within(connect, self.connect_timeout, "stt", "connecting to deepgram")
        except ProviderError as error:
            cause = error.__cause__
            if isinstance(cause, aiohttp.WSServerHandshakeError):
                raise ProviderError("stt", f"deepgram refused the stream: HTTP {cause.status}") from cause
            raise
        return DeepgramSession(ws, self.send_timeout, self.finish_timeout, self.keepalive_seconds)
