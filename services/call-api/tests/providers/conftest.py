"""Fixtures for the provider tests: the clinic scenario, and fake cloud servers on 127.0.0.1 that
speak the real wire protocols (OpenAI chat-completions SSE and audio/speech, Deepgram live WS),
with switchable failure modes: "ok", "500", "hang" (before any answer), "hang_midway", "die_midway"."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.dialog.scenario_file import load_scenario
from call_api.providers.http import close_shared_session

API_KEY = "test-key"


@pytest.fixture
def clinic_dialog() -> Callable[..., ScenarioDialog]:
    scenario = load_scenario()

    def make(**initial_vars: str) -> ScenarioDialog:
        return ScenarioDialog(scenario, initial_vars)

    return make


@pytest.fixture(autouse=True)
async def _close_http_session() -> AsyncIterator[None]:
    yield
    await close_shared_session()


class FakeServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.release = asyncio.Event()  # hanging handlers wait for this (set at teardown)
        self.app = web.Application()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> "FakeServer":
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def hang(self) -> None:
        await self.release.wait()


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
        if self.mode == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if self.mode == "hang":
            await self.hang()
        return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        body = await request.json()
        self.requests.append(body)
        if self.mode == "500":
            return web.json_response({"error": {"message": "The server had an error"}}, status=500)
        if self.mode == "hang":
            await self.hang()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index, token in enumerate(self.tokens):
            last = index == len(self.tokens) - 1
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "model": body["model"],
                "choices": [
                    {"index": 0, "delta": {"content": token}, "finish_reason": "stop" if last else None}
                ],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if index == 1 and self.mode == "hang_midway":
                await self.hang()
            if index == 1 and self.mode == "die_midway":
                assert request.transport is not None
                request.transport.close()
                return response
        await response.write(b"data: [DONE]\n\n")
        return response

    async def speech(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        self.requests.append(await request.json())
        if self.mode == "500":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if self.mode == "hang":
            await self.hang()
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for index, chunk in enumerate(self.pcm_chunks):
            await response.write(chunk)
            if index == 1 and self.mode == "hang_midway":
                await self.hang()
            if index == 1 and self.mode == "die_midway":
                assert request.transport is not None
                request.transport.close()
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
        if self.mode == "500":
            return web.Response(status=500)
        if self.mode == "hang":
            await self.hang()
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if self.mode == "error_close":
            error = {"type": "Error", "err_code": "DATA-0000", "description": "could not process audio"}
            await ws.send_str(json.dumps(error))
            await ws.close(code=1011, message=b"DATA-0000")
            return ws
        words = self.transcript.split()
        sent_interims = 0
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                self.audio_bytes += len(message.data)
                if self.mode == "die_midway" and self.audio_bytes >= 6400:
                    assert request.transport is not None
                    request.transport.close()
                    return ws
                due = min(self.audio_bytes // 3200, len(words))
                if due > sent_interims and self.mode != "silent":
                    sent_interims = due
                    await ws.send_str(self.results(" ".join(words[:due]), is_final=False))
            elif message.type == WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                if kind == "KeepAlive":
                    self.keepalives += 1
                    self.keepalive_seen.set()
                elif kind == "CloseStream":
                    self.close_streams += 1
                    if self.mode in ("hang_midway", "silent"):
                        await self.hang()
                    await ws.send_str(self.results(self.transcript, is_final=True))
                    await ws.send_str(
                        json.dumps({"type": "Metadata", "request_id": "req-1", "duration": 1.0})
                    )
                    await ws.close()
        return ws


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


@pytest.fixture
async def fake_deepgram() -> AsyncIterator[FakeDeepgram]:
    server = await FakeDeepgram().start()
    yield server
    await server.stop()
