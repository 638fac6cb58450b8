"""The back end the chaos tests break: Redis, the mediasoup service + media-controller, call-api on
gunicorn (2 workers, the real Orchestrator) with the cloud adapters (OpenAI TTS + chat, Deepgram
STT) pointed at fake servers in this process. Redis holds a pre-recorded filler: a WAV of a phrase
no provider here can say, so hearing it at the gateway proves it came from the cache."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from call_api.orchestrator.filler import FILLER_KEY, FILLER_TEXT
from redis import Redis as RedisClient
from voicebot_callsim.audio import envelope, read_audio, speech_pcm
from voicebot_callsim.call import Event, GatewayCall

from tests.support.callapi import CallApiServer
from tests.support.fake_providers import API_KEY, FakeDeepgram, FakeOpenAI, ThreadedFake
from tests.support.fullstack import REAL_FACTORY
from tests.support.media import MediaStack, speech_wav, start_media_stack
from tests.support.metrics import scrape, value
from tests.support.procs import http_ok, wait_until
from tests.support.redis import RedisServer, redis_ping

RATE = 16000
ATTEMPTS = 3  # CALL_API_PROVIDER_ATTEMPTS of the stack
PROVIDER_TIMEOUT = 1.5
FILLER_PHRASE = "One moment please, we have a technical issue."
BOT_PHRASE = "Hello there, how can I help you today?"  # what the fake TTS "says", whatever the text
UNRELATED_PHRASE = "The quick brown fox jumps over the lazy dog."  # never played: the control


@dataclass
class ChaosStack:
    redis: RedisServer
    media: MediaStack
    call_api: CallApiServer
    openai: ThreadedFake[FakeOpenAI]
    deepgram: ThreadedFake[FakeDeepgram]
    filler_wav: bytes
    log_dir: Path

    # --- Redis ----------------------------------------------------------------------------------

    def redis_client(self) -> RedisClient:
        return RedisClient.from_url(self.redis.url, socket_timeout=2, socket_connect_timeout=2)

    def seed_filler(self) -> None:
        with self.redis_client() as client:
            client.set(FILLER_KEY, self.filler_wav)

    def restart_redis(self) -> None:
        """Start Redis again on its port (empty: no persistence) and put the filler back."""
        self.redis.start()
        self.seed_filler()

    def tts_keys(self) -> list[bytes]:
        with self.redis_client() as client:
            return list(client.scan_iter("tts:*"))

    # --- media --------------------------------------------------------------------------------

    def media_sessions_active(self) -> float:
        """The controller's open media sessions (its media_sessions_active gauge)."""
        return value(scrape(f"{self.media.controller_url}/metrics"), "media_sessions_active")

    # --- health ---------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        found = []
        if not redis_ping(self.redis.port):
            found.append("redis down")
        if not self.media.service.alive():
            found.append("mediasoup service down")
        if not http_ok(f"{self.media.controller_url}/readyz"):
            found.append("media-controller not ready")
        if self.call_api.ready_workers() < self.call_api.workers:
            found.append("call-api workers not ready")
        return found

    def repair(self, timeout: float = 60.0) -> None:
        """Bring back whatever an earlier (failed) test left broken, then wait until all is ready."""
        if not redis_ping(self.redis.port):
            self.restart_redis()
        if not self.media.service.alive():
            self.media.start_service()
        self.openai.reset()
        self.deepgram.reset()
        for fake in (self.openai, self.deepgram):
            if not fake.is_up:
                fake.up()
        self.openai.server.pcm_chunks = _chunks(speech_pcm(BOT_PHRASE, 24000))
        self.new_reply()
        wait_until(lambda: not self.problems(), timeout, "the chaos stack to be healthy", interval=0.1)

    def new_reply(self) -> str:
        """Make the fake LLM answer a sentence never said before (so TTS is not served from cache)."""
        tag = uuid.uuid4().hex[:6]
        # Four tokens, the sentence ending only in the last: a stream cut or stalled after the
        # second token ("die_midway", "hang_midway") really is cut mid-reply.
        self.openai.server.tokens = ["Reply", " number", f" {tag}", "."]
        return f"Reply number {tag}."

    # --- logs -----------------------------------------------------------------------------------

    def records(
        self,
        message: str,
        trace_id: str | None = None,
        level: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """call-api's JSON log lines with this message (and trace id, level, logged at or after
        `since`, a UTC time)."""
        return [
            r
            for r in self.call_api.log_records(message)
            if (trace_id is None or r.get("trace_id") == trace_id)
            and (level is None or r.get("level") == level)
            and (since is None or _logged_at(r) >= since)
        ]

    async def wait_records(
        self,
        message: str,
        trace_id: str | None,
        level: str,
        count: int = 1,
        timeout: float = 20.0,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """`records`, once there are `count` of them: a line logged before the event the test saw
        may still be in the log pipe."""

        def enough() -> bool:
            return len(self.records(message, trace_id, level, since)) >= count

        await asyncio.to_thread(
            wait_until, enough, timeout, f"{count}× {level} {message!r} of {trace_id}", 0.05
        )
        return self.records(message, trace_id, level, since)

    def stop(self) -> None:
        for stop in (
            self.call_api.stop,
            self.media.stop,
            self.redis.stop,
            self.openai.close,
            self.deepgram.close,
        ):
            with contextlib.suppress(Exception):
                stop()


def _logged_at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["ts"]).replace("Z", "+00:00"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def _chunks(pcm: bytes, size: int = 4801) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def start_chaos_stack(base: Path, *, workers: int = 2) -> ChaosStack:
    log_dir = base / "logs"
    filler_wav = speech_wav(base, FILLER_PHRASE, "filler.wav").read_bytes()
    with contextlib.ExitStack() as undo:
        openai = ThreadedFake(FakeOpenAI())
        undo.callback(openai.close)
        deepgram = ThreadedFake(FakeDeepgram("yes please"))
        undo.callback(deepgram.close)
        openai.server.pcm_chunks = _chunks(speech_pcm(BOT_PHRASE, 24000))
        redis_server = RedisServer(log_dir).start()
        undo.callback(redis_server.stop)
        with RedisClient.from_url(redis_server.url) as client:
            client.set(FILLER_KEY, filler_wav)  # before call-api starts: its workers load it at start-up
        media = start_media_stack(base)
        undo.callback(media.stop)
        call_api = CallApiServer(
            log_dir=log_dir,
            redis_url=redis_server.url,
            factory=REAL_FACTORY,
            workers=workers,
            env={
                "CALL_API_MEDIA_CONTROLLER_URL": media.controller_url,
                "CALL_API_TTS_PROVIDER": "openai",
                "CALL_API_DIALOG_PROVIDER": "openai",
                "CALL_API_STT_PROVIDER": "deepgram",
                "CALL_API_OPENAI_BASE_URL": f"{openai.url}/v1",
                "CALL_API_OPENAI_API_KEY": API_KEY,
                "CALL_API_DEEPGRAM_URL": f"ws://127.0.0.1:{deepgram.server.port}/v1/listen",
                "CALL_API_DEEPGRAM_API_KEY": API_KEY,
                "CALL_API_PROVIDER_ATTEMPTS": str(ATTEMPTS),
                "CALL_API_PROVIDER_TIMEOUT": str(PROVIDER_TIMEOUT),
                "CALL_API_PROVIDER_BACKOFF": "0.1",
                "CALL_API_CONNECT_TIMEOUT": "1",
                "CALL_API_LLM_FIRST_TOKEN_TIMEOUT": "2",
                "CALL_API_LLM_TOKEN_TIMEOUT": "2",
                "CALL_API_TTS_FIRST_CHUNK_TIMEOUT": "2",
                "CALL_API_TTS_CHUNK_TIMEOUT": "2",
                "CALL_API_STT_FINISH_TIMEOUT": "2",
            },
        )
        undo.callback(call_api.stop)
        call_api.start(timeout=90)
        undo.pop_all()
    return ChaosStack(redis_server, media, call_api, openai, deepgram, filler_wav, log_dir)


# --- calls --------------------------------------------------------------------------------------


def new_call(stack: ChaosStack, tag: str) -> GatewayCall:
    return GatewayCall(
        stack.call_api.ws_url,
        f"chaos-{tag}-{uuid.uuid4().hex[:8]}",
        {"contact_name": "Ann"},
        trace_id=uuid.uuid4().hex,
    )


@contextlib.asynccontextmanager
async def live_calls(
    stack: ChaosStack, count: int, tag: str, *, greeted: bool = True
) -> AsyncIterator[list[GatewayCall]]:
    """`count` concurrent calls, accepted, media legs up (and greeted); all hung up afterwards."""
    calls = [new_call(stack, f"{tag}{i}") for i in range(count)]
    try:
        await asyncio.gather(*(c.start() for c in calls))
        await asyncio.gather(*(c.setup_media() for c in calls))
        if greeted:
            await asyncio.gather(*(c.wait_event("transcript", 20, role="bot") for c in calls))
        yield calls
    finally:
        await asyncio.gather(*(c.terminate(timeout=3) for c in calls), return_exceptions=True)


def ended(call: GatewayCall) -> Event | None:
    return next((e for e in call.events if e.name in ("call_ended", "call_failed")), None)


async def wait_ended(call: GatewayCall, timeout: float) -> Event:
    event = await call.events.wait(lambda e: e.name in ("call_ended", "call_failed"), timeout)
    async with asyncio.timeout(5):
        await call.closed.wait()
    return event


def filler_plays(call: GatewayCall) -> list[Event]:
    return [
        e for e in call.events if e.name == "play_audio" and e.message["payload"].get("text") == FILLER_TEXT
    ]


@dataclass
class Heard:
    filler_r: float
    unrelated_r: float


def heard_filler(stack: ChaosStack, call: GatewayCall) -> Heard:
    """Correlate the bot audio the gateway decoded with the cached filler's envelope (and, as the
    control, with a phrase that was never played)."""
    assert call.legs is not None
    received = envelope(call.legs.receiver.pcm(RATE), RATE)
    filler = envelope(read_audio(io.BytesIO(stack.filler_wav), RATE), RATE)
    unrelated = envelope(speech_pcm(UNRELATED_PHRASE, RATE), RATE)
    return Heard(find_clip(received, filler), find_clip(received, unrelated))


def find_clip(received: np.ndarray, clip: np.ndarray) -> float:
    """The best Pearson correlation of the clip's envelope with any stretch of the received one
    (the whole clip must fit: a partial overlap at the edges would flatter a wrong clip)."""
    best = -1.0
    n = len(clip)
    for start in range(0, len(received) - n + 1):
        window = received[start : start + n]
        if np.std(window) > 0:
            best = max(best, float(np.corrcoef(window, clip)[0, 1]))
    return best


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    await asyncio.to_thread(wait_until, predicate, timeout, what, 0.05)
