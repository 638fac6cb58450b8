"""The per-call dialog: greeting → (listen → think → speak)* → hang up, with barge-in and the
spec's fallbacks. It speaks to the client only in protocol messages and to audio only through
the media-controller."""

import asyncio
import collections
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from opentelemetry import trace
from voicebot_mediaclient import MediaRequestError, MediaSession, MediaUnavailable
from voicebot_protocol import (
    CallTerminated,
    EndReason,
    MediasoupRequest,
    MediasoupResponse,
    PlayAudio,
    PlaybackAck,
    StopAudio,
    Transcript,
)
from voicebot_protocol.client import (
    MediasoupResponsePayload,
    PlayAudioPayload,
    StopAudioPayload,
    TranscriptPayload,
)
from voicebot_protocol.media import (
    BargeInDetected,
    CallerSpeech,
    MediaFailure,
    PlaybackFinished,
    PlaybackStarted,
)
from voicebot_tracing.context import set_call

from call_api import metrics
from call_api.orchestrator.base import CallResult, WebSocketIn, WebSocketOut
from call_api.orchestrator.filler import Clip
from call_api.orchestrator.resources import Resources
from call_api.orchestrator.tts_cache import synthesize_cached
from call_api.orchestrator.turns import Turn, TurnMachine
from call_api.orchestrator.utterance import Utterance
from call_api.providers.base import Dialog, ProviderError
from call_api.providers.text import sentences
from call_api.telemetry import traced, traced_stream

log = logging.getLogger(__name__)

T = TypeVar("T")

FRAME_MS = 20


class CallEnd(Exception):
    """Raised inside the call's tasks to end it with a result."""

    def __init__(self, result: CallResult) -> None:
        super().__init__(result.message)
        self.result = result


class Orchestrator:
    def __init__(
        self, call_id: str, trace_id: str, dialog: Dialog, media: MediaSession, resources: Resources
    ) -> None:
        self.call_id = call_id
        self.trace_id = trace_id
        self.dialog = dialog
        self.media = media
        self.res = resources
        self.cfg = resources.settings
        self.turns = TurnMachine()
        self._out: WebSocketOut | None = None
        self._streams = itertools.count(1)
        self._speaking: Utterance | None = None  # the stream now playing
        self._speech_task: asyncio.Task[None] | None = None
        self._finished: dict[str, asyncio.Future[PlaybackFinished]] = {}
        self._interrupted: Utterance | None = None
        self._preroll: collections.deque[bytes] = collections.deque(
            maxlen=max(1, self.cfg.preroll_ms // FRAME_MS)
        )
        self._caller_frames: asyncio.Queue[bytes] = asyncio.Queue(maxsize=500)
        self._caller_speaking = False
        self._speech_changed = asyncio.Event()
        self._failures = 0
        self._filler_texts: dict[str, str] = {}
        self._closed = False
        self._heard_at: tuple[float, float] | None = None  # (end of caller speech, STT final seconds)
        self._vad_speech_end_ms: float | None = None  # the media VAD's end of the last caller speech
        self._bot_leg_ready = asyncio.Event()  # the gateway consumes the bot's audio

    # --- the call --------------------------------------------------------------------------------

    async def run(self, websocket_in: WebSocketIn, websocket_out: WebSocketOut) -> CallResult | None:
        set_call(self.call_id, self.trace_id)
        self._out = websocket_out
        done: asyncio.Future[CallResult | None] = asyncio.get_running_loop().create_future()

        def finish(task: asyncio.Task[Any]) -> None:
            if done.done() or task.cancelled():
                return
            exc = task.exception()
            if exc is None:
                done.set_result(None if task.get_name() == "client" else _completed())
            elif isinstance(exc, CallEnd):
                done.set_result(exc.result)
            else:
                log.error("call task failed", exc_info=exc, extra={"task": task.get_name()})
                done.set_result(CallResult(EndReason.INTERNAL_ERROR, "internal error"))

        tasks = [
            asyncio.create_task(self._client_loop(websocket_in), name="client"),
            asyncio.create_task(self._media_events(), name="media-events"),
            asyncio.create_task(self._caller_audio(), name="caller-audio"),
            asyncio.create_task(self._converse(), name="dialog"),
        ]
        for task in tasks:
            task.add_done_callback(finish)
        try:
            result = await done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            self.turns.to(Turn.ENDED)
        log.info("call ended", extra={"result": result.reason.value if result else "client_ended"})
        return result

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.media.close()

    async def _send(self, message: Any) -> None:
        assert self._out is not None
        await self._out(message)

    # --- client → server ---------------------------------------------------------------------------

    async def _client_loop(self, websocket_in: WebSocketIn) -> None:
        async for message in websocket_in:
            if isinstance(message, MediasoupRequest):
                await self._signal(message)
            elif isinstance(message, PlaybackAck):
                log.info("playback acknowledged", extra={"stream_id": message.payload.stream_id})
            elif isinstance(message, CallTerminated):
                return

    async def _signal(self, request: MediasoupRequest) -> None:
        payload = request.payload
        try:
            data = await self.media.signal(payload.method, payload.data)
        except MediaRequestError as exc:
            await self._send(
                MediasoupResponse(
                    payload=MediasoupResponsePayload(request_id=payload.request_id, ok=False, error=str(exc))
                )
            )
            return
        except MediaUnavailable as exc:
            raise self._media_failed(str(exc)) from None
        await self._send(
            MediasoupResponse(payload=MediasoupResponsePayload(request_id=payload.request_id, data=data))
        )
        if payload.method == "consume" and data.get("producer_id") in ("bot", self.media.bot_producer_id):
            self._bot_leg_ready.set()

    # --- media → orchestrator ----------------------------------------------------------------------

    async def _media_events(self) -> None:
        async for event in self.media.events():
            if isinstance(event, PlaybackStarted):
                text = (
                    self._speaking.text
                    if self._speaking and self._speaking.stream_id == event.stream_id
                    else self._filler_texts.pop(event.stream_id, None)
                )
                await self._send(
                    PlayAudio(
                        payload=PlayAudioPayload(
                            stream_id=event.stream_id,
                            rtp_port=event.rtp_port,
                            codec=event.codec,
                            ssrc=event.ssrc,
                            payload_type=event.payload_type,
                            clock_rate=event.clock_rate,
                            text=text,
                        )
                    )
                )
            elif isinstance(event, PlaybackFinished):
                waiter = self._finished.get(event.stream_id)  # _wait_finished removes it
                if waiter and not waiter.done():
                    waiter.set_result(event)
            elif isinstance(event, BargeInDetected):
                await self._barge_in(event)
            elif isinstance(event, CallerSpeech):
                self._caller_speaking = event.speaking
                if not event.speaking:
                    self._vad_speech_end_ms = event.at_ms  # for the turn's timing log fields
                self._speech_changed.set()
            elif isinstance(event, MediaFailure):
                raise self._media_failed(event.reason)
        raise self._media_failed("media events channel closed")

    def _media_failed(self, reason: str) -> CallEnd:
        log.critical("media failure: the call ends now", extra={"reason": reason})
        return CallEnd(CallResult(EndReason.MEDIA_FAILURE, f"media failure: {reason}"))

    async def _caller_audio(self) -> None:
        async for frame in self.media.caller_audio():
            self._preroll.append(frame)
            if self.turns.state is Turn.USER_TURN:
                if self._caller_frames.full():
                    self._caller_frames.get_nowait()
                self._caller_frames.put_nowait(frame)

    async def _barge_in(self, event: BargeInDetected) -> None:
        utterance = self._speaking
        if self.turns.state is not Turn.BOT_TURN or utterance is None:
            return
        log.info(
            "barge-in",
            extra={"stream_id": utterance.stream_id, "onset_ms": event.onset_ms, "source": event.source},
        )
        self._interrupted = utterance
        metrics.BARGE_INS.inc()
        trace.get_current_span().add_event("barge_in", {"stream_id": utterance.stream_id})
        await self._send(StopAudio(payload=StopAudioPayload(stream_id=utterance.stream_id)))
        await self.media.stop_playback(utterance.stream_id)
        if self._speech_task is not None:
            self._speech_task.cancel()

    # --- the dialog --------------------------------------------------------------------------------

    async def _converse(self) -> None:
        # Greeting before the gateway consumes the bot's audio would be lost on the phone.
        try:
            async with asyncio.timeout(self.cfg.media_ready_timeout):
                await self._bot_leg_ready.wait()
        except TimeoutError:
            log.warning("the gateway did not consume the bot's audio in time; greeting anyway")
        await self._speak(self.dialog.greeting)
        while not self.dialog.finished:
            heard = await self._listen()
            self.turns.to(Turn.THINKING)
            if heard:
                await self._send(Transcript(payload=TranscriptPayload(role="caller", text=heard)))
            await self._speak(functools.partial(self.dialog.reply, heard))
        await asyncio.sleep(self.cfg.hangup_after_ms / 1000)
        raise CallEnd(_completed())

    @traced("bot_turn")
    async def _speak(self, make_text: Callable[[], AsyncIterator[str]]) -> None:
        """One bot reply; retried from the start (after the filler) when a provider fails."""
        self.turns.to(Turn.BOT_TURN)
        while True:
            self._speech_task = asyncio.create_task(self._play_reply(make_text()))
            try:
                await self._speech_task
                # The call's end cancels this task, which cancels the reply task; if code below
                # swallowed that cancellation, the reply "finished" and the dialog must still stop.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise asyncio.CancelledError
                self._failures = 0
                break
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                break  # barge-in cancelled the reply
            except (ProviderError, TimeoutError) as exc:
                await self._provider_failed(exc)
            finally:
                self._speech_task = None
        interrupted, self._interrupted = self._interrupted, None
        if interrupted is not None:
            finished = await self._wait_finished(interrupted.stream_id, timeout=1.0)
            heard = interrupted.heard_text(finished.played_ms if finished else 0)
            log.info(
                "bot interrupted",
                extra={
                    "stream_id": interrupted.stream_id,
                    "played_ms": finished.played_ms if finished else None,
                    "duration_ms": round(interrupted.duration_ms),
                    "heard": heard,
                },
            )
            self.dialog.record_heard(heard)
            await self._send(Transcript(payload=TranscriptPayload(role="bot", text=heard, interrupted=True)))
        self.turns.to(Turn.USER_TURN)

    async def _play_reply(self, text_chunks: AsyncIterator[str]) -> None:
        utterance = Utterance(f"{self.call_id}-{next(self._streams)}", self.res.tts.sample_rate)
        started = False
        timer = metrics.TurnTimer(*(self._heard_at or (None, 0.0)))
        playing_at: float | None = None
        self._heard_at = None
        text_chunks = traced_stream("dialog.reply", text_chunks, on_first=timer.first_text)
        try:
            async for sentence in _with_timeout(sentences(text_chunks), self.cfg.provider_timeout, "llm"):
                pcm_chunks = traced_stream(
                    "tts",
                    synthesize_cached(self.res.tts, self.res.cache, sentence, self.cfg.tts_cache_ttl),
                    on_first=timer.first_audio,
                    attributes={"tts.provider": self.res.tts.name, "tts.chars": len(sentence)},
                )
                async for pcm in _with_timeout(pcm_chunks, self.cfg.provider_timeout, "tts"):
                    if not started:
                        timer.playing()
                        playing_at = time.monotonic()
                        self._speaking = utterance
                        self._finished[utterance.stream_id] = asyncio.get_running_loop().create_future()
                        await self.media.start_playback(utterance.stream_id, utterance.sample_rate, sentence)
                        started = True
                    await self.media.send_pcm(pcm)
                    utterance.add(sentence, len(pcm))
            if started:
                await self.media.end_playback(utterance.stream_id)
                finished = await self._wait_finished(utterance.stream_id, utterance.duration_ms / 1000 + 5)
                await self._send(Transcript(payload=TranscriptPayload(role="bot", text=utterance.text)))
                log.info(
                    "bot spoke",
                    extra={
                        "stream_id": utterance.stream_id,
                        "played_ms": finished and finished.played_ms,
                        **_turn_fields(timer, playing_at, self._vad_speech_end_ms),
                    },
                )
        except MediaUnavailable as exc:
            raise self._media_failed(str(exc)) from None
        except BaseException:
            if started and self._interrupted is not utterance:
                self._finished.pop(utterance.stream_id, None)
                with contextlib.suppress(MediaUnavailable):
                    await self.media.stop_playback(utterance.stream_id)
            raise
        finally:
            if self._speaking is utterance and self._interrupted is not utterance:
                self._speaking = None

    async def _wait_finished(self, stream_id: str, timeout: float) -> PlaybackFinished | None:
        """The stream's playback_finished (None on timeout). A cancelled wait (barge-in) leaves the
        waiter in place for the interrupted turn to read how much was played."""
        waiter = self._finished.get(stream_id)
        if waiter is None:
            return None
        try:
            async with asyncio.timeout(timeout):
                finished = await asyncio.shield(waiter)
        except TimeoutError:
            log.warning("no playback_finished for stream", extra={"stream_id": stream_id})
            finished = None
        self._finished.pop(stream_id, None)
        if self._speaking is not None and self._speaking.stream_id == stream_id:
            self._speaking = None
        return finished

    @traced("user_turn")
    async def _listen(self) -> str:
        """USER_TURN: caller audio → STT until the end of the utterance; the final transcript."""
        while True:
            try:
                heard = await self._transcribe_utterance()
            except (ProviderError, TimeoutError) as exc:
                await self._provider_failed(exc)
                continue
            self._failures = 0  # "N failures in a row": a recognised utterance ends the run
            return heard

    @traced("stt")
    async def _transcribe_utterance(self) -> str:
        while not self._caller_frames.empty():
            self._caller_frames.get_nowait()
        session = await _within(
            self.res.stt.open(self.dialog.expected_phrases()), self.cfg.provider_timeout, "stt"
        )
        try:
            for frame in list(self._preroll):
                await session.feed(frame)
            loop = asyncio.get_running_loop()
            started = self._caller_speaking
            deadline = loop.time() + self.cfg.silence_timeout
            while True:
                if not started and self._caller_speaking:
                    started = True
                    deadline = loop.time() + self.cfg.max_utterance_seconds
                if started and not self._caller_speaking:
                    break
                if loop.time() >= deadline:
                    break
                self._speech_changed.clear()
                frame_wait = asyncio.ensure_future(self._caller_frames.get())
                change_wait = asyncio.ensure_future(self._speech_changed.wait())
                await asyncio.wait(
                    {frame_wait, change_wait},
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                change_wait.cancel()
                if frame_wait.done():
                    await session.feed(frame_wait.result())
                else:
                    frame_wait.cancel()
            speech_end = time.monotonic()
            while not self._caller_frames.empty():
                await session.feed(self._caller_frames.get_nowait())
            result = await _within(session.finish(), self.cfg.provider_timeout, "stt")
            self._heard_at = (speech_end, time.monotonic() - speech_end)
            metrics.STT_FINAL.observe(self._heard_at[1])
        finally:
            await session.aclose()
        log.info("caller said", extra={"text": result.text})
        return result.text

    # --- fallbacks ---------------------------------------------------------------------------------

    async def _provider_failed(self, exc: BaseException) -> None:
        """The spec's TTS/LLM/STT row: play the filler, log, retry with backoff, or end the call."""
        self._failures += 1
        provider = exc.provider if isinstance(exc, ProviderError) else "provider (timeout)"
        metrics.PROVIDER_ERRORS.labels(metrics.provider_label(provider)).inc()
        log.error(
            "provider failed",
            extra={"provider": provider, "error": str(exc), "failures": self._failures},
        )
        await self._play_filler()
        if self._failures >= self.cfg.provider_attempts:
            raise CallEnd(CallResult(EndReason.PROVIDER_FAILURE, f"{provider} unavailable"))
        metrics.PROVIDER_RETRIES.labels(metrics.provider_label(provider)).inc()
        await asyncio.sleep(self.cfg.provider_backoff * 2 ** (self._failures - 1))

    async def _play_filler(self) -> None:
        clip: Clip | None = self.res.filler
        if clip is None:
            log.error("no filler to play")
            return
        stream_id = f"{self.call_id}-filler-{next(self._streams)}"
        utterance = Utterance(stream_id, clip.sample_rate)
        utterance.add(clip.text, len(clip.pcm))
        self._filler_texts[stream_id] = clip.text  # play_audio.text, as for every other stream
        self._finished[stream_id] = asyncio.get_running_loop().create_future()
        try:
            await self.media.start_playback(stream_id, clip.sample_rate, clip.text)
            await self.media.send_pcm(clip.pcm)
            await self.media.end_playback(stream_id)
        except MediaUnavailable as exc:
            raise self._media_failed(str(exc)) from None
        await self._wait_finished(stream_id, utterance.duration_ms / 1000 + 5)


def _turn_fields(
    timer: metrics.TurnTimer, playing_at: float | None, vad_speech_end_ms: float | None
) -> dict[str, float | None]:
    """A reply's timings for its "bot spoke" log line (bench/ reads them): durations in ms, and
    `*_at_ms` instants in monotonic-clock ms (the same clock in every process of the host).
    speech_end = when the orchestrator saw the end of the caller's utterance (after the VAD
    hangover); first_audio_ms = speech_end → the reply's first audio handed to the media plane."""

    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 1)

    replying = timer.speech_end is not None
    return {
        "vad_speech_end_at_ms": vad_speech_end_ms if replying else None,
        "speech_end_at_ms": ms(timer.speech_end),
        "stt_final_ms": ms(timer.stt_seconds) if replying else None,
        "dialog_first_text_ms": ms(timer.text_seconds),
        "tts_first_audio_ms": ms(timer.audio_seconds),
        "first_audio_ms": (
            ms(playing_at - timer.speech_end) if timer.speech_end is not None and playing_at else None
        ),
        "first_audio_at_ms": ms(playing_at),
    }


def _completed() -> CallResult:
    return CallResult(EndReason.DIALOG_COMPLETED, "dialog completed")


async def _within(step: Awaitable[T], timeout: float, provider: str) -> T:
    """A provider step bounded in time; a hung provider is that provider's failure (call_ended and
    the logs name it), not an anonymous TimeoutError."""
    try:
        async with asyncio.timeout(timeout):
            return await step
    except TimeoutError as exc:
        raise ProviderError(provider, f"no answer within {timeout:g}s") from exc


async def _with_timeout(chunks: AsyncIterator[Any], timeout: float, provider: str) -> AsyncIterator[Any]:
    """Each next chunk must arrive within `timeout` (a hung provider becomes its ProviderError)."""
    iterator = aiter(chunks)
    try:
        while True:
            try:
                async with asyncio.timeout(timeout):
                    item = await anext(iterator)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise ProviderError(provider, f"nothing streamed within {timeout:g}s") from exc
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
