"""Fake cloud servers on 127.0.0.1 that speak the real wire protocols (OpenAI chat-completions SSE,
audio/speech and models; Deepgram live WebSocket), with switchable failure modes: "ok", "500",
"hang" (before any answer), "hang_midway", "die_midway" (the connection cut mid-stream), and for
Deepgram "error_close" and "silent".

`mode` applies to every endpoint; `modes[endpoint]` overrides it for one (OpenAI endpoints:
"models", "chat", "speech"; Deepgram: "listen"). `hits` counts requests per endpoint.

In a test's own event loop: `server = await FakeOpenAI().start()` ... `await server.stop()`.
For a server that must outlive one test's loop (a stack shared by a module or session), run it in
a thread of its own: `ThreadedFake(FakeOpenAI())`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

from aiohttp import WSMsgType, web

API_KEY = "test-key"
MAX_HANG_SECONDS = 60.0  # a hanging handler gives up by itself: every injected fault is bounded


class FakeServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.modes: dict[str, str] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.requests: list[dict[str, Any]] = []
        self.release = asyncio.Event()  # hanging handlers wait for this (set at stop)
        self.app = web.Application()
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def listening(self) -> bool:
        return self._runner is not None

    def mode_of(self, endpoint: str) -> str:
        return self.modes.get(endpoint, self.mode)

    def reset(self) -> None:
        self.mode = "ok"
        self.modes.clear()
        self.hits.clear()
        self.requests.clear()

    async def start(self, port: int = 0) -> FakeServer:
        """Listen on `port` (0: a free one; a restart passes the old port to come back on it)."""
        self.release = asyncio.Event()
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def hang(self) -> None:
        try:
            await asyncio.wait_for(self.release.wait(), MAX_HANG_SECONDS)
        except TimeoutError:
            pass

    async def fault_midway(self, request: web.Request, index: int, mode: str) -> bool:
        """After the second streamed chunk: `hang_midway` stalls, `die_midway` drops the
        connection (True: the handler stops writing)."""
        if index != 1:
            return False
        if mode == "hang_midway":
            await self.hang()
        if mode == "die_midway":
            assert request.transport is not None
            request.transport.close()
            return True
        return False


class FakeOpenAI(FakeServer):
    """/v1/chat/completions (streamed SSE), /v1/audio/speech (streamed PCM), /v1/models."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = ["Hello", " Anna", ".", " How can", " I help", " you today?"]
        self.pcm_chunks = [bytes([i % 256]) * 4801 for i in range(5)]  # odd sizes on purpose
        self.app.router.add_post("/v1/chat/completions", self.chat)
        self.app.router.add_post("/v1/audio/speech", self.speech)
        self.app.router.add_get("/v1/models", self.models)

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"error": {"message": "Incorrect API key"}}, status=401)
        return None

    async def models(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        self.hits["models"] += 1
        mode = self.mode_of("models")
        if mode == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if mode == "503":
            return web.json_response({"error": {"message": "unavailable"}}, status=503)
        if mode == "hang":
            await self.hang()
        return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        body = await request.json()
        self.requests.append(body)
        self.hits["chat"] += 1
        mode = self.mode_of("chat")
        if mode == "500":
            return web.json_response({"error": {"message": "The server had an error"}}, status=500)
        if mode == "hang":
            await self.hang()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        tokens = list(self.tokens)
        for index, token in enumerate(tokens):
            last = index == len(tokens) - 1
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "model": body["model"],
                "choices": [
                    {"index": 0, "delta": {"content": token}, "finish_reason": "stop" if last else None}
                ],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if await self.fault_midway(request, index, mode):
                return response
        await response.write(b"data: [DONE]\n\n")
        return response

    async def speech(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        self.requests.append(await request.json())
        self.hits["speech"] += 1
        mode = self.mode_of("speech")
        if mode == "500":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if mode == "hang":
            await self.hang()
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for index, chunk in enumerate(list(self.pcm_chunks)):
            await response.write(chunk)
            if await self.fault_midway(request, index, mode):
                return response
        return response


class FakeDeepgram(FakeServer):
    """/v1/listen: interim Results every 100 ms of audio, a final one after CloseStream, then close."""

    def __init__(self, transcript: str = "yes please") -> None:
        super().__init__()
        self.transcript = transcript
        self.keepalives = 0
        self.keepalive_seen = asyncio.Event()
        self.close_streams = 0
        self.audio_bytes = 0
        self.app.router.add_get("/v1/listen", self.listen)

    def results(self, text: str, is_final: bool) -> str:
        return json.dumps(
            {
                "type": "Results",
                "channel_index": [0, 1],
                "duration": 0.1,
                "start": 0.0,
                "is_final": is_final,
                "speech_final": is_final,
                "channel": {"alternatives": [{"transcript": text, "confidence": 0.98, "words": []}]},
                "metadata": {"request_id": "req-1", "model_info": {"name": "general"}},
            }
        )

    async def listen(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"query": dict(request.query), "query_all": list(request.query.items())})
        if request.headers.get("Authorization") != f"Token {API_KEY}":
            return web.Response(status=401, headers={"dg-error": "Invalid credentials."})
        self.hits["listen"] += 1
        mode = self.mode_of("listen")
        if mode == "500":
            return web.Response(status=500)
        if mode == "hang":
            await self.hang()
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if mode == "error_close":
            error = {"type": "Error", "err_code": "DATA-0000", "description": "could not process audio"}
            await ws.send_str(json.dumps(error))
            await ws.close(code=1011, message=b"DATA-0000")
            return ws
        words = self.transcript.split()
        sent_interims = 0
        audio_bytes = 0  # this connection's
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                self.audio_bytes += len(message.data)
                audio_bytes += len(message.data)
                if mode == "die_midway" and audio_bytes >= 6400:
                    assert request.transport is not None
                    request.transport.close()
                    return ws
                due = min(audio_bytes // 3200, len(words))
                if due > sent_interims and mode != "silent":
                    sent_interims = due
                    await ws.send_str(self.results(" ".join(words[:due]), is_final=False))
            elif message.type == WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                if kind == "KeepAlive":
                    self.keepalives += 1
                    self.keepalive_seen.set()
                elif kind == "CloseStream":
                    self.close_streams += 1
                    if mode in ("hang_midway", "silent"):
                        await self.hang()
                    await ws.send_str(self.results(self.transcript, is_final=True))
                    await ws.send_str(
                        json.dumps({"type": "Metadata", "request_id": "req-1", "duration": 1.0})
                    )
                    await ws.close()
        return ws


S = TypeVar("S", bound=FakeServer)
T = TypeVar("T")


class ThreadedFake(Generic[S]):
    """A fake server on an event loop in a daemon thread of its own, so it outlives any test's loop.

    Plain attributes (`mode`, `modes`, `tokens`, ...) may be set from the test thread; anything that
    touches the server's loop goes through `run()`."""

    def __init__(self, server: S, port: int = 0) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-provider", daemon=True)
        self._thread.start()
        self.run(server.start(port))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def is_up(self) -> bool:
        return self.server.listening

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def down(self) -> None:
        """Stop listening (connections are refused) until up()."""
        self.run(self.server.stop())

    def up(self) -> None:
        self.run(self.server.start(self.server.port))

    def release_hangs(self) -> None:
        """Let every hanging handler go on (and stop new ones from hanging past this moment)."""
        self._loop.call_soon_threadsafe(self.server.release.set)

    def reset(self) -> None:
        self.release_hangs()
        self.run(_set_release(self.server))
        self.server.reset()

    def close(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()


async def _set_release(server: FakeServer) -> None:
    server.release = asyncio.Event()
