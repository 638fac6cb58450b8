"""Speaker: plays one Speech at a time (a streamed reply, or a stored clip such as the filler) and
stops it on a barge-in. It alone sends the client the speech's messages (play_audio, stop_audio,
the bot's transcripts) and tells the media-controller to open, end and stop playback streams."""

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from typing import Any, cast

from voicebot_mediaclient import MediaSession, MediaUnavailable
from voicebot_protocol import PlayAudio, StopAudio, Transcript
from voicebot_protocol.client import PlayAudioPayload, StopAudioPayload, TranscriptPayload
from voicebot_protocol.media import PlaybackFinished, PlaybackStarted

from call_api.cache import RedisCacheManager
from call_api.orchestrator.base import WebSocketOut
from call_api.orchestrator.call_end import media_failed
from call_api.orchestrator.filler import Clip
from call_api.orchestrator.speech.ahead import Ahead
from call_api.orchestrator.speech.speech import Speech
from call_api.orchestrator.speech.utterance import Utterance
from call_api.orchestrator.timings import ReplyTiming
from call_api.orchestrator.tts_cache import is_personal, synthesize_cached
from call_api.providers.base import TextToSpeech
from call_api.providers.deadline import each_within
from call_api.providers.text import sentences
from call_api.settings import Settings
from call_api.telemetry import traced_stream

log = logging.getLogger(__name__)

INTERRUPTED_FINISH_TIMEOUT = 1.0  # seconds for playback_finished of a stopped stream
FINISH_MARGIN = 5.0  # seconds past a stream's duration before its playback_finished is given up


class Speaker:
    def __init__(
        self,
        call_id: str,
        media: MediaSession,
        send: WebSocketOut,
        tts: TextToSpeech,
        cache: RedisCacheManager,
        settings: Settings,
        personal_values: frozenset[str] = frozenset(),
    ) -> None:
        self.call_id = call_id
        self.personal_values = personal_values
        self.media = media
        self.send = send
        self.tts = tts
        self.cache = cache
        self.settings = settings
        self.current: Speech | None = None  # the speech whose stream is open now
        self._streams = itertools.count(1)
        self._open: dict[str, Speech] = {}  # by stream id, until its playback_finished is read
        self._ahead: set[Ahead] = set()  # sentences synthesized ahead, until used or dropped

    # --- what the dialog asks for ------------------------------------------------------------------

    async def play(
        self, text_chunks: AsyncIterator[str], timing: ReplyTiming, ahead: Ahead | None = None
    ) -> Speech:
        """A reply, streamed sentence by sentence through TTS, until it played out or a barge-in
        stopped it (`interrupted`, `heard`). `ahead`: a sentence of it synthesized already. Raises
        the provider's failure (ProviderError, TimeoutError), or CallEnd when the media plane failed."""
        speech = Speech(f"{self.call_id}-{next(self._streams)}", Utterance(self.tts.sample_rate))
        return await self._run(speech, self._stream_reply(speech, text_chunks, timing, ahead))

    def synthesize_ahead(self, sentence: str) -> Ahead:
        """Start synthesizing `sentence` now, for a play() that may come (cancel it if not)."""
        timeout = self.settings.orchestrator.provider_timeout
        ahead = Ahead.start(
            sentence, lambda: each_within(self._synthesize(sentence), timeout, "tts", "synthesis")
        )
        self._ahead.add(ahead)
        ahead.task.add_done_callback(lambda _: self._ahead.discard(ahead))
        return ahead

    def drop_ahead(self) -> None:
        """The call ends: stop every synthesis made ahead."""
        for ahead in list(self._ahead):
            ahead.cancel()

    async def play_clip(self, clip: Clip) -> Speech:
        """A stored clip (the filler), played out whole: a barge-in does not cut it."""
        speech = Speech(
            f"{self.call_id}-filler-{next(self._streams)}",
            Utterance(clip.sample_rate),
            interruptible=False,
        )
        speech.utterance.add(clip.text, len(clip.pcm))
        return await self._run(speech, self._play_stored(speech, clip))

    async def interrupt(self) -> Speech | None:
        """Barge-in: stop_audio to the client, the stream stopped at the controller, then the
        producing task (TTS, dialog) cancelled, in this order. The interrupted speech, or None when
        nothing interruptible plays. play() then reads how much played and what was heard: this
        runs on the media events channel, which is also what delivers that playback_finished."""
        speech = self.current
        if speech is None or not speech.interruptible or speech.interrupted:
            return None
        speech.interrupted = True
        try:
            await self.send(StopAudio(payload=StopAudioPayload(stream_id=speech.stream_id)))
            speech.stop_audio_at_ms = time.monotonic() * 1000
            await self.media.stop_playback(speech.stream_id)
        except MediaUnavailable as exc:
            raise media_failed(str(exc)) from None
        finally:
            if speech.task is not None:
                speech.task.cancel()
        return speech

    # --- media events ------------------------------------------------------------------------------

    async def on_playback_started(self, event: PlaybackStarted) -> None:
        speech = self._open.get(event.stream_id)
        await self.send(
            PlayAudio(
                payload=PlayAudioPayload(
                    stream_id=event.stream_id,
                    rtp_port=event.rtp_port,
                    codec=event.codec,
                    ssrc=event.ssrc,
                    payload_type=event.payload_type,
                    clock_rate=event.clock_rate,
                    text=speech.text if speech else None,
                )
            )
        )
        if speech is not None and not speech.started.done():
            speech.started.set_result(event)

    def on_playback_finished(self, event: PlaybackFinished) -> None:
        speech = self._open.get(event.stream_id)
        if speech is not None and not speech.finished.done():
            speech.finished.set_result(event)

    # --- one speech ----------------------------------------------------------------------------------

    async def _run(self, speech: Speech, body: Coroutine[Any, Any, None]) -> Speech:
        task = speech.task = asyncio.create_task(
            self._produce(speech, body), name=f"speech:{speech.stream_id}"
        )
        try:
            # wait(), not `await task`: a barge-in cancels the task, and that must not look like a
            # cancellation of this caller; the call's end cancels this caller, and so the task.
            await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: the call is ending anyway
            raise
        if speech.interrupted:
            if not task.cancelled():
                task.exception()  # retrieved: the interruption decides, not how the task ended
            await self._after_interruption(speech)
            return speech
        task.result()
        speech.heard = speech.text
        return speech

    async def _produce(self, speech: Speech, body: Coroutine[Any, Any, None]) -> None:
        try:
            await body
        except MediaUnavailable as exc:
            raise media_failed(str(exc)) from None
        except BaseException:
            if speech.opened and not speech.interrupted:
                self._forget(speech)
                with contextlib.suppress(MediaUnavailable):
                    await self.media.stop_playback(speech.stream_id)
            raise
        finally:
            if self.current is speech and not speech.interrupted:
                self.current = None

    def _synthesize(self, sentence: str) -> AsyncIterator[bytes]:
        cache = self.settings.cache
        personal = is_personal(sentence, self.personal_values)
        ttl = cache.tts_personal_cache_ttl if personal else cache.tts_cache_ttl
        return synthesize_cached(self.tts, self.cache, sentence, ttl)

    async def _audio_of(self, sentence: str, ahead: Ahead | None) -> AsyncIterator[bytes]:
        """The sentence's PCM: made ahead if it was (and did not fail), else synthesized now."""
        if ahead is not None and ahead.text == sentence:
            ready = await ahead.audio(self.settings.orchestrator.provider_timeout)
            if ready is not None:
                yield ready
                return
        synthesis = cast(AsyncGenerator[bytes, None], self._synthesize(sentence))
        async with contextlib.aclosing(synthesis) as chunks:  # a barge-in stops the synthesis at once
            async for chunk in chunks:
                yield chunk

    async def _stream_reply(
        self, speech: Speech, text_chunks: AsyncIterator[str], timing: ReplyTiming, ahead: Ahead | None
    ) -> None:
        timeout = self.settings.orchestrator.provider_timeout
        text_chunks = traced_stream("dialog.reply", text_chunks, on_first=timing.timer.first_text)
        async for sentence in each_within(sentences(text_chunks), timeout, "llm", "dialog reply"):
            speech.pending = sentence
            pcm_chunks = traced_stream(
                "tts",
                self._audio_of(sentence, ahead),
                on_first=timing.timer.first_audio,
                attributes={"tts.provider": self.tts.name, "tts.chars": len(sentence)},
            )
            async for pcm in each_within(pcm_chunks, timeout, "tts", "synthesis"):
                if not speech.opened:
                    timing.playing()
                    await self._open_stream(speech, sentence)
                await self.media.send_pcm(pcm)
                speech.utterance.add(sentence, len(pcm))
                speech.pending = ""
        if not speech.opened:
            return
        finished = await self._end_stream(speech)
        await self.send(Transcript(payload=TranscriptPayload(role="bot", text=speech.text)))
        log.info(
            "bot spoke",
            extra={
                "stream_id": speech.stream_id,
                "played_ms": finished and finished.played_ms,
                **timing.log_fields(),
            },
        )

    async def _play_stored(self, speech: Speech, clip: Clip) -> None:
        await self._open_stream(speech, clip.text)
        await self.media.send_pcm(clip.pcm)
        await self._end_stream(speech)

    async def _open_stream(self, speech: Speech, text: str) -> None:
        self._open[speech.stream_id] = speech
        self.current = speech
        await self.media.start_playback(
            speech.stream_id, speech.utterance.sample_rate, text, interruptible=speech.interruptible
        )
        speech.opened = True

    async def _end_stream(self, speech: Speech) -> PlaybackFinished | None:
        await self.media.end_playback(speech.stream_id)
        return await self._wait_finished(speech, speech.duration_ms / 1000 + FINISH_MARGIN)

    async def _after_interruption(self, speech: Speech) -> None:
        finished = await self._wait_finished(speech, INTERRUPTED_FINISH_TIMEOUT)
        speech.heard = speech.utterance.heard_text(finished.played_ms if finished else 0)
        rest = speech.utterance.rest_text(finished.played_ms if finished else 0)
        speech.rest = " ".join(part.strip() for part in (rest, speech.pending) if part.strip())
        log.info(
            "bot interrupted",
            extra={
                "stream_id": speech.stream_id,
                "played_ms": finished.played_ms if finished else None,
                "duration_ms": round(speech.duration_ms),
                "heard": speech.heard,
            },
        )
        await self.send(
            Transcript(payload=TranscriptPayload(role="bot", text=speech.heard, interrupted=True))
        )

    async def _wait_finished(self, speech: Speech, timeout: float) -> PlaybackFinished | None:
        """The stream's playback_finished (None on timeout). A cancelled wait (a barge-in) leaves
        the stream registered, for the interruption to read how much was played."""
        if speech.stream_id not in self._open:
            return None
        try:
            async with asyncio.timeout(timeout):
                finished: PlaybackFinished | None = await asyncio.shield(speech.finished)
        except TimeoutError:
            log.warning("no playback_finished for stream", extra={"stream_id": speech.stream_id})
            finished = None
        self._forget(speech)
        return finished

    def _forget(self, speech: Speech) -> None:
        self._open.pop(speech.stream_id, None)
        if self.current is speech:
            self.current = None
