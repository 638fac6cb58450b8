"""The Orchestrator in the test's own event loop, with fakes of everything around it: a media
session that plays like the controller (playback_started on the first PCM, playback_finished on
end or stop), a TTS whose sentences can be held or fail, a scripted STT and dialog, and the client
as a queue. Every action lands on one Timeline, so a test asserts what happened and in which order,
waiting on events (never on sleeps). A call takes milliseconds."""

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import pytest
from call_api.cache import RedisCacheManager
from call_api.orchestrator.base import CallResult
from call_api.orchestrator.filler import Clip
from call_api.orchestrator.orchestrator import Orchestrator
from call_api.orchestrator.resources import Resources
from call_api.providers.base import ProviderError, SttResult
from call_api.providers.config import ProviderSettings
from call_api.settings import CacheSettings, MediaSettings, OrchestratorSettings, Settings
from voicebot_mediaclient import MediaClient, MediaUnavailable
from voicebot_protocol import ClientMessage, ServerMessage
from voicebot_protocol.media import MediaEvent, PlaybackFinished, PlaybackStarted

RATE = 16000
SENTENCE_MS = 100
FILLER = Clip(b"\x00" * (RATE * 2 // 20), RATE, "Sorry, one moment.")  # 50 ms
DEAD_REDIS = "redis://127.0.0.1:1/0"  # refused at once: the TTS cache just misses

Entry = tuple[Any, ...]


def pcm_ms(ms: int) -> bytes:
    return b"\x01\x00" * (RATE * ms // 1000)


class Timeline:
    """Everything that happened in the call, in order: ("client", message), ("media", command,
    stream_id), ("tts", "cancelled", sentence), ("stt", "open"), ("dialog", "record_heard", text)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._changed = asyncio.Event()

    def add(self, *entry: Any) -> None:
        self.entries.append(entry)
        self._changed.set()

    def index(self, match: Callable[[Entry], bool]) -> int:
        return next(i for i, e in enumerate(self.entries) if match(e))

    def count(self, match: Callable[[Entry], bool]) -> int:
        return sum(1 for e in self.entries if match(e))

    async def wait_for(self, match: Callable[[Entry], bool], timeout: float = 2.0) -> Entry:
        async with asyncio.timeout(timeout):
            while True:
                for entry in self.entries:
                    if match(entry):
                        return entry
                self._changed.clear()
                await self._changed.wait()

    def client(self, event: str) -> list[Any]:
        """The messages of that event the client received."""
        return [e[1] for e in self.entries if self.sent(event)(e)]

    @staticmethod
    def sent(event: str) -> Callable[[Entry], bool]:
        """Matches the client receiving a message of that event."""
        return lambda e: e[0] == "client" and e[1].event == event

    @staticmethod
    def media(command: str) -> Callable[[Entry], bool]:
        """Matches a command to the media-controller."""
        return lambda e: e[:2] == ("media", command)

    @staticmethod
    def tts(what: str, sentence: str) -> Callable[[Entry], bool]:
        return lambda e: e == ("tts", what, sentence)


class FakeMediaSession:
    bot_producer_id = "bot-producer"

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.unavailable = False  # every command raises MediaUnavailable
        self.finish_held: asyncio.Event | None = None  # playback_finished of an ended stream waits
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue()
        self._audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._streams: dict[str, tuple[int, int]] = {}  # stream id → (sample rate, PCM bytes)
        self.interruptible: dict[str, bool] = {}  # stream id → opened interruptible
        self._open: str | None = None
        self._later: asyncio.Task[None] | None = None

    def push(self, event: MediaEvent) -> None:
        self._events.put_nowait(event)

    def push_audio(self, frame: bytes) -> None:
        self._audio.put_nowait(frame)

    async def events(self) -> AsyncIterator[MediaEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def caller_audio(self) -> AsyncIterator[bytes]:
        while (frame := await self._audio.get()) is not None:
            yield frame

    async def signal(self, method: str, data: dict[str, Any]) -> dict[str, Any]:
        self._command("signal", method)
        return {"id": f"{method}-1", **data}

    async def start_playback(
        self, stream_id: str, sample_rate: int, text: str | None = None, *, interruptible: bool = False
    ) -> None:
        self._command("start_playback", stream_id)
        self.interruptible[stream_id] = interruptible
        self._streams[stream_id] = (sample_rate, 0)
        self._open = stream_id

    async def send_pcm(self, pcm: bytes) -> None:
        self._command("pcm", self._open)
        assert self._open is not None, "PCM without an open stream"
        rate, size = self._streams[self._open]
        if size == 0:
            self.push(PlaybackStarted(stream_id=self._open, rtp_port=40000, ssrc=1234, payload_type=100))
        self._streams[self._open] = (rate, size + len(pcm))

    async def end_playback(self, stream_id: str) -> None:
        self._command("end_playback", stream_id)
        finished = PlaybackFinished(stream_id=stream_id, played_ms=self._played_ms(stream_id))
        if self.finish_held is None:
            self.push(finished)
            return
        held = self.finish_held

        async def finish_later() -> None:
            await held.wait()
            self.push(finished)

        self._later = asyncio.create_task(finish_later())

    async def stop_playback(self, stream_id: str | None = None) -> None:
        self._command("stop_playback", stream_id)
        if stream_id in self._streams:
            self.push(
                PlaybackFinished(stream_id=stream_id, played_ms=self._played_ms(stream_id), stopped=True)
            )

    async def close(self) -> None:
        self.timeline.add("media", "close", None)
        if self._later is not None:
            self._later.cancel()
        self._events.put_nowait(None)
        self._audio.put_nowait(None)

    def _command(self, name: str, detail: str | None) -> None:
        if self.unavailable:
            raise MediaUnavailable("the fake media-controller is gone")
        self.timeline.add("media", name, detail)

    def _played_ms(self, stream_id: str) -> int:
        rate, size = self._streams[stream_id]
        return size * 1000 // (rate * 2)


class FakeTTS:
    """SENTENCE_MS of PCM per sentence. `held[sentence]`: the sentence's audio waits for that
    event; `failures`: the next N syntheses raise ProviderError."""

    name = "fake"
    voice = "test"
    sample_rate = RATE

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.held: dict[str, asyncio.Event] = {}
        self.failures = 0

    async def check(self) -> None:
        return None

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if self.failures:
            self.failures -= 1
            raise ProviderError("tts", "fake outage")
        done = False
        try:
            if text in self.held:
                self.timeline.add("tts", "holding", text)
                await self.held[text].wait()
            yield pcm_ms(SENTENCE_MS)
            done = True
        finally:
            if not done:
                self.timeline.add("tts", "cancelled", text)


class FakeSttSession:
    def __init__(self, stt: "FakeSTT") -> None:
        self.stt = stt

    async def feed(self, pcm: bytes) -> SttResult | None:
        self.stt.fed.append(pcm)
        return None

    async def finish(self) -> SttResult:
        return SttResult(self.stt.transcripts.popleft() if self.stt.transcripts else "", final=True)

    async def aclose(self) -> None:
        return None


class FakeSTT:
    final_timeout: float | None = None
    name = "fake"

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.transcripts: deque[str] = deque()
        self.failures = 0
        self.fed: list[bytes] = []  # every frame fed to any session

    async def open(self, phrases: Sequence[str] = ()) -> FakeSttSession:
        self.timeline.add("stt", "open")
        if self.failures:
            self.failures -= 1
            raise ProviderError("stt", "fake outage")
        return FakeSttSession(self)


class FakeDialog:
    """Greets with GREETING, then answers with `replies` in order; finished after the last one."""

    GREETING = ("Hello there. ", "How can I help you today?")

    def __init__(self, timeline: Timeline, replies: Iterable[str]) -> None:
        self.timeline = timeline
        self.replies = list(replies)
        self._finished = not self.replies

    async def _stream(self, chunks: Iterable[str]) -> AsyncIterator[str]:
        for chunk in chunks:
            yield chunk

    def greeting(self) -> AsyncIterator[str]:
        return self._stream(self.GREETING)

    def reply(self, caller_text: str) -> AsyncIterator[str]:
        self.timeline.add("dialog", "reply", caller_text)
        text = self.replies.pop(0)
        self._finished = not self.replies
        return self._stream([text])

    def expected_phrases(self) -> Sequence[str]:
        return ()

    def record_heard(self, spoken_text: str) -> None:
        self.timeline.add("dialog", "record_heard", spoken_text)

    @property
    def finished(self) -> bool:
        return self._finished


class FakeCall:
    """One call: the Orchestrator, its fakes and the client's side."""

    def __init__(self, replies: Iterable[str], **orchestrator: Any) -> None:
        self.timeline = Timeline()
        self.media = FakeMediaSession(self.timeline)
        self.tts = FakeTTS(self.timeline)
        self.stt = FakeSTT(self.timeline)
        self.dialog = FakeDialog(self.timeline, replies)
        media_ready_timeout = orchestrator.pop("media_ready_timeout", 5.0)
        knobs = {"provider_backoff": 0.001, "silence_timeout": 0.2, "hangup_after_ms": 0, **orchestrator}
        settings = Settings(
            cache=CacheSettings(redis_url=DEAD_REDIS),
            media=MediaSettings(media_ready_timeout=media_ready_timeout),
            orchestrator=OrchestratorSettings(**knobs),
        )
        self.cache = RedisCacheManager(DEAD_REDIS)
        resources = Resources(
            settings=settings,
            providers=ProviderSettings(),
            tts=self.tts,
            stt=self.stt,
            media=MediaClient("http://127.0.0.1:1"),  # never used: the session is the fake
            cache=self.cache,
            filler=FILLER,
        )
        self.orchestrator = Orchestrator("call-1", "0" * 32, self.dialog, self.media, resources)  # type: ignore[arg-type]
        self._client: asyncio.Queue[ClientMessage | None] = asyncio.Queue()
        self.task: asyncio.Task[CallResult | None] | None = None

    def start(self) -> "FakeCall":
        self.task = asyncio.create_task(self.orchestrator.run(self._incoming(), self._out))
        return self

    def send(self, message: ClientMessage) -> None:
        self._client.put_nowait(message)

    async def result(self, timeout: float = 3.0) -> CallResult | None:
        assert self.task is not None
        async with asyncio.timeout(timeout):
            return await self.task

    async def _incoming(self) -> AsyncIterator[ClientMessage]:
        while (message := await self._client.get()) is not None:
            yield message

    async def _out(self, message: ServerMessage) -> None:
        self.timeline.add("client", message)

    async def aclose(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.orchestrator.aclose()
        await self.cache.aclose()


@pytest.fixture
async def new_call() -> AsyncIterator[Callable[..., FakeCall]]:
    calls: list[FakeCall] = []

    def make(replies: Iterable[str] = (), **orchestrator: Any) -> FakeCall:
        call = FakeCall(replies, **orchestrator)
        calls.append(call)
        return call

    yield make
    for call in calls:
        await call.aclose()
