"""Listener: the caller's audio and the media VAD's speech events, turned into what the caller said
in one utterance (STT), with the timings of the reply's latency."""

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from voicebot_protocol.media import CallerSpeech

from call_api import metrics
from call_api.providers.base import SpeechToText, SttSession
from call_api.providers.deadline import within
from call_api.settings import OrchestratorSettings
from call_api.telemetry import traced

log = logging.getLogger(__name__)

FRAME_MS = 20
QUEUED_FRAMES = 500  # 10 s of caller audio while STT is slow; older frames are dropped


@dataclass(frozen=True)
class Heard:
    """text: the final transcript (may be empty: silence); speech_end: monotonic seconds when the
    end of the utterance was seen; stt_seconds: from then to the final transcript;
    vad_speech_end_ms: the media VAD's end of the utterance (monotonic ms), if it reported one;
    speech_ms: how long the VAD heard the caller speak in it, if it saw both ends."""

    text: str
    speech_end: float
    stt_seconds: float
    vad_speech_end_ms: float | None
    speech_ms: float | None = None


@dataclass(frozen=True)
class _AfterStop:
    """Kept when a barge-in stopped the bot: the pre-roll then (the interrupting words' start) and
    the speech starts counted before the utterance that stopped it."""

    preroll: list[bytes]
    starts_before: int


class Listener:
    def __init__(self, stt: SpeechToText, settings: OrchestratorSettings) -> None:
        self.stt = stt
        self.settings = settings
        # The audio just before a turn starts (a barge-in's first words), fed to STT first.
        self._preroll: collections.deque[bytes] = collections.deque(
            maxlen=max(1, settings.preroll_ms // FRAME_MS)
        )
        self._frames: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUED_FRAMES)
        self._speaking = False
        self._speech_starts = 0  # caller_speech{speaking:true} events so far
        self._speech_changed = asyncio.Event()
        self._vad_speech_end_ms: float | None = None
        self._vad_speech_start_ms: float | None = None
        self._after_stop: _AfterStop | None = None

    def bot_stopped(self) -> None:
        """A barge-in stopped the bot: from now on every frame is kept for the next listen(), which
        hears the utterance that stopped it from its start, even one that ended before it began
        (a short backchannel, ended while the stop was being handled)."""
        speaking_now = 1 if self._speaking else 0
        self._after_stop = _AfterStop(list(self._preroll), self._speech_starts - speaking_now)
        while not self._frames.empty():
            self._frames.get_nowait()

    def stop_decided(self) -> None:
        """The turn after the stop was taken (an utterance, or a key instead): keep no more."""
        self._after_stop = None

    def on_caller_frame(self, frame: bytes, *, queue: bool) -> None:
        """One 20 ms frame of caller audio; `queue`: the caller has the turn, keep it for STT."""
        self._preroll.append(frame)
        if queue or self._after_stop is not None:
            if self._frames.full():
                self._frames.get_nowait()
            self._frames.put_nowait(frame)

    def on_caller_speech(self, event: CallerSpeech) -> None:
        self._speaking = event.speaking
        if event.speaking:
            self._speech_starts += 1
            self._vad_speech_start_ms = event.at_ms
        else:
            self._vad_speech_end_ms = event.at_ms
        self._speech_changed.set()

    @traced("stt")
    async def listen(self, expected_phrases: Sequence[str], silence_timeout: float | None = None) -> Heard:
        """One utterance: from the caller's first voiced frame (or `silence_timeout`, default the
        setting's, without one) to the VAD's end of speech (or `max_utterance_seconds`). Raises
        ProviderError."""
        cfg = self.settings
        after_stop, self._after_stop = self._after_stop, None
        if after_stop is not None:  # the frames since the stop are queued: they are the utterance
            starts, preroll = after_stop.starts_before, after_stop.preroll
        else:
            starts, preroll = self._speech_starts, list(self._preroll)
            while not self._frames.empty():
                self._frames.get_nowait()
        session = await within(self.stt.open(expected_phrases), cfg.provider_timeout, "stt", "opening")
        try:
            for frame in preroll:
                await session.feed(frame)
            await self._feed_until_end_of_speech(
                session, starts, cfg.silence_timeout if silence_timeout is None else silence_timeout
            )
            speech_end = time.monotonic()
            while not self._frames.empty():
                await session.feed(self._frames.get_nowait())
            final_timeout = self.stt.final_timeout or cfg.provider_timeout
            result = await within(session.finish(), final_timeout, "stt", "final transcript")
            stt_seconds = time.monotonic() - speech_end
            metrics.STT_FINAL.observe(stt_seconds)
        finally:
            await session.aclose()
        said = {"text": result.text} if cfg.log_transcripts else {"words": len(result.text.split())}
        log.info("caller said", extra=said)
        return Heard(result.text, speech_end, stt_seconds, self._vad_speech_end_ms, self._speech_ms())

    def _speech_ms(self) -> float | None:
        """The VAD's length of the caller's latest utterance (after a barge-in: the one that
        stopped the bot, when nothing followed it), None while it is still on."""
        start, end = self._vad_speech_start_ms, self._vad_speech_end_ms
        if start is None or end is None or end < start or self._speaking:
            return None
        return end - start

    async def _feed_until_end_of_speech(
        self, session: SttSession, starts: int, silence_timeout: float
    ) -> None:
        """`starts`: the speech starts counted when listen() began; one since then counts even if
        it already ended (a short utterance while the STT session was opening)."""
        loop = asyncio.get_running_loop()
        started = self._speaking
        deadline = loop.time() + silence_timeout
        while True:
            if not started and (self._speaking or self._speech_starts > starts):
                started = True
                deadline = loop.time() + self.settings.max_utterance_seconds
            if started and not self._speaking:
                return
            if loop.time() >= deadline:
                return
            self._speech_changed.clear()
            frame_wait = asyncio.ensure_future(self._frames.get())
            change_wait = asyncio.ensure_future(self._speech_changed.wait())
            try:
                await asyncio.wait(
                    {frame_wait, change_wait},
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                change_wait.cancel()
                if not frame_wait.done():
                    frame_wait.cancel()
            if frame_wait.done() and not frame_wait.cancelled():
                await session.feed(frame_wait.result())
