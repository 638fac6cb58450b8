"""The per-call dialog: greeting → (listen → think → speak)* → hang up, with barge-in and the
spec's fallbacks. It coordinates small parts: a Speaker (the bot's speech), a Listener (the
caller's), ProviderFailures (the fallback policy) and the turn table. It speaks to the client only
in protocol messages and to audio only through the media-controller."""

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from opentelemetry import trace
from voicebot_mediaclient import MediaRequestError, MediaSession, MediaUnavailable
from voicebot_protocol import (
    CallTerminated,
    Dtmf,
    EndReason,
    MediasoupRequest,
    MediasoupResponse,
    PlaybackAck,
    Transcript,
    Transfer,
    TransferResult,
)
from voicebot_protocol.client import MediasoupResponsePayload, TranscriptPayload, TransferPayload
from voicebot_protocol.media import (
    BargeInDetected,
    BotLegReady,
    CallerSpeech,
    DtmfDetected,
    MediaFailure,
    PlaybackFinished,
    PlaybackStarted,
)
from voicebot_tracing.context import set_call

from call_api import metrics
from call_api.orchestrator.base import CallResult, WebSocketIn, WebSocketOut
from call_api.orchestrator.call_control import (
    Keys,
    TransferOutcome,
    failure_reason,
    reply_to_digit,
    transfer_requested,
)
from call_api.orchestrator.call_end import CallEnd, completed, media_failed
from call_api.orchestrator.fallback import ProviderFailures
from call_api.orchestrator.listening.caller_silence import CallerSilence
from call_api.orchestrator.listening.listener import Heard, Listener
from call_api.orchestrator.resources import Resources
from call_api.orchestrator.resume import Cut, backchannel_phrases, joined, resumes
from call_api.orchestrator.speech.ahead import Ahead
from call_api.orchestrator.speech.speaker import Speaker
from call_api.orchestrator.timings import ReplyTiming
from call_api.orchestrator.turns import Turn, Turns
from call_api.providers.base import Dialog, ProviderError, TransferDialog
from call_api.providers.text import split_sentences
from call_api.telemetry import traced

log = logging.getLogger(__name__)


class Orchestrator:
    def __init__(
        self,
        call_id: str,
        trace_id: str,
        dialog: Dialog,
        media: MediaSession,
        resources: Resources,
        *,
        personal_values: frozenset[str] = frozenset(),
    ) -> None:
        """personal_values: the call's variables, so their audio is not kept in the TTS cache."""
        self.call_id = call_id
        self.trace_id = trace_id
        self.dialog = dialog
        self.media = media
        self.res = resources
        self.cfg = resources.settings.orchestrator
        self.turns = Turns()
        self.speaker = Speaker(
            call_id, media, self._send, resources.tts, resources.cache, resources.settings, personal_values
        )
        self.listener = Listener(resources.stt, self.cfg)
        self.failures = ProviderFailures(self.cfg, self._play_filler)
        self.bot_leg_ready = asyncio.Event()  # the gateway consumes the bot's audio
        self.keys = Keys()  # the caller's DTMF, from the RTP or the gateway's SIP INFO
        self.transfer = TransferOutcome()
        self.caller_silence = CallerSilence(self.cfg.caller_silence_seconds)
        self._out: WebSocketOut | None = None
        self._heard: Heard | None = None  # the utterance the next reply answers (its timings)
        self._cut: Cut | None = None  # the bot's utterance the last barge-in stopped, until decided
        self._closed = False

    # --- the call --------------------------------------------------------------------------------

    async def run(self, websocket_in: WebSocketIn, websocket_out: WebSocketOut) -> CallResult | None:
        set_call(self.call_id, self.trace_id)
        self._out = websocket_out
        self.caller_silence.heard()  # the limit counts from the call's start
        result: CallResult | None
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._client_loop(websocket_in), name=f"call:{self.call_id}:client")
                tasks.create_task(self._media_events(), name=f"call:{self.call_id}:media-events")
                tasks.create_task(self._caller_audio(), name=f"call:{self.call_id}:caller-audio")
                tasks.create_task(self._converse(), name=f"call:{self.call_id}:dialog")
                if self.cfg.caller_silence_seconds > 0:
                    tasks.create_task(self._end_on_caller_silence(), name=f"call:{self.call_id}:silence")
            raise AssertionError("the dialog task returned without ending the call")  # pragma: no cover
        except ExceptionGroup as ended:
            result = self._result_of(ended)
        finally:
            self.speaker.drop_ahead()
            if not self.turns.is_(Turn.ENDED):
                self.turns.advance(Turn.ENDED)
        log.info("call ended", extra={"result": result.reason.value if result else "client_ended"})
        return result

    def _result_of(self, ended: ExceptionGroup[Exception]) -> CallResult | None:
        """The first exception raised decides: a CallEnd its result, anything else (a bug)
        internal_error. A bug in a task that was already ending is logged too."""
        for exc in ended.exceptions:
            if not isinstance(exc, CallEnd):
                log.error("call task failed", exc_info=exc)
        first = ended.exceptions[0]
        if isinstance(first, CallEnd):
            return first.result
        return CallResult(EndReason.INTERNAL_ERROR, "internal error")

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
            elif isinstance(message, Dtmf):
                self.keys.pressed(message.payload.digit, "sip_info")
            elif isinstance(message, TransferResult):
                self.transfer.reported(message.payload)
            elif isinstance(message, CallTerminated):
                break
        raise CallEnd(None)  # call_terminated, or the client is gone

    async def _signal(self, request: MediasoupRequest) -> None:
        payload = request.payload
        try:
            data = await self.media.signal(payload.method, payload.data)
        except MediaRequestError as exc:
            await self._send(
                MediasoupResponse(
                    payload=MediasoupResponsePayload(
                        request_id=payload.request_id, ok=False, error=str(exc), code=exc.code
                    )
                )
            )
            return
        except MediaUnavailable as exc:
            raise media_failed(str(exc)) from None
        await self._send(
            MediasoupResponse(payload=MediasoupResponsePayload(request_id=payload.request_id, data=data))
        )

    # --- media → orchestrator ----------------------------------------------------------------------

    async def _media_events(self) -> None:
        async for event in self.media.events():
            if isinstance(event, PlaybackStarted):
                await self.speaker.on_playback_started(event)
            elif isinstance(event, PlaybackFinished):
                self.speaker.on_playback_finished(event)
            elif isinstance(event, BargeInDetected):
                await self._barge_in(event)
            elif isinstance(event, CallerSpeech):
                self.listener.on_caller_speech(event)
            elif isinstance(event, BotLegReady):
                log.info("bot leg ready", extra={"transport_id": event.transport_id})
                self.bot_leg_ready.set()
            elif isinstance(event, DtmfDetected):
                self.keys.pressed(event.digit, "rtp")
            elif isinstance(event, MediaFailure):
                raise media_failed(event.reason)
        raise media_failed("media events channel closed")

    async def _caller_audio(self) -> None:
        async for frame in self.media.caller_audio():
            self.caller_silence.heard()
            self.listener.on_caller_frame(frame, queue=self.turns.is_(Turn.USER_TURN))

    async def _end_on_caller_silence(self) -> None:
        await self.caller_silence.expired()
        limit = self.cfg.caller_silence_seconds
        log.warning("no caller audio: ending the call", extra={"silence_s": limit})
        raise CallEnd(CallResult(EndReason.CALLER_SILENCE, f"no caller audio for {limit:g} s"))

    async def _barge_in(self, event: BargeInDetected) -> None:
        received_at_ms = time.monotonic() * 1000
        if not self.turns.is_(Turn.BOT_TURN) or self.speaker.current is None:
            return
        stream_id = self.speaker.current.stream_id
        speech = await self.speaker.interrupt()
        if speech is None:
            return
        self.listener.bot_stopped()  # the next turn hears the interrupting utterance from its start
        log.info(
            "barge-in",
            extra={
                "stream_id": stream_id,
                "source": event.source,
                # Monotonic ms (bench/README.md, "Clocks"): the controller's onset and decision,
                # the event read here, stop_audio queued to the client.
                "onset_ms": event.onset_ms,
                "detected_ms": event.detected_ms,
                "received_at_ms": round(received_at_ms, 1),
                "stop_audio_at_ms": round(speech.stop_audio_at_ms or 0.0, 1),
            },
        )
        metrics.BARGE_INS.inc()
        trace.get_current_span().add_event("barge_in", {"stream_id": stream_id})

    # --- the dialog --------------------------------------------------------------------------------

    async def _converse(self) -> None:
        # Greeting before the gateway consumes the bot's audio would be lost on the phone.
        try:
            async with asyncio.timeout(self.res.settings.media.media_ready_timeout):
                await self.bot_leg_ready.wait()
        except TimeoutError:
            log.warning("the gateway did not consume the bot's audio in time; greeting anyway")
        await self._speak(self.dialog.greeting)
        while True:
            target = transfer_requested(self.dialog)
            if target is not None:
                await self._transfer(target)  # ends the call, or the dialog answers the failure
                continue
            if self.dialog.finished:
                break
            turn = await self._listen_or_key()
            self.listener.stop_decided()
            cut, self._cut = self._cut, None  # decided by this turn, whatever it is
            self.turns.advance(Turn.THINKING)
            if isinstance(turn, str):  # a key
                if cut is not None:
                    cut.drop()
                await self._speak(reply_to_digit(self.dialog, turn))
                continue
            if turn.text:
                await self._send(Transcript(payload=TranscriptPayload(role="caller", text=turn.text)))
            if cut is not None and resumes(turn, cut, time.monotonic(), self.cfg):
                await self._resume(cut, turn)
                continue
            if cut is not None:
                cut.drop()
            self._heard = turn
            await self._speak(functools.partial(self.dialog.reply, turn.text))
        await asyncio.sleep(self.cfg.hangup_after_ms / 1000)
        raise completed()

    async def _listen_or_key(self) -> Heard | str:
        """USER_TURN: the caller's next utterance, or a key they pressed (whichever comes first;
        a key pressed while the bot spoke is answered now)."""
        key = self.keys.take()
        if key is not None:
            return key
        listening = asyncio.ensure_future(self._listen())
        pressing = asyncio.ensure_future(self.keys.next())
        try:
            await asyncio.wait((listening, pressing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, pressing):
                task.cancel()
            await asyncio.wait((listening, pressing))  # the STT session closes before we go on
        if listening.done() and not listening.cancelled():
            if pressing.done() and not pressing.cancelled():
                self.keys.pressed(pressing.result(), "rtp")  # keep it for the next turn
            return listening.result()
        return pressing.result()

    async def _transfer(self, target: str) -> None:
        """Hand the call to `target`: the client (a SIP gateway: REFER) answers transfer_result."""
        outcome = self.transfer.begin()
        log.info("transfer requested", extra={"target": target})
        await self._send(Transfer(payload=TransferPayload(target=target)))
        try:
            async with asyncio.timeout(self.cfg.transfer_timeout):
                result = await outcome
        except TimeoutError:
            result = None
        if result is not None and result.ok:
            log.info("call transferred", extra={"target": target, "status": result.status})
            raise CallEnd(CallResult(EndReason.TRANSFERRED, f"transferred to {target}"))
        reason = failure_reason(result)
        log.warning("transfer failed", extra={"target": target, "reason": reason})
        if isinstance(self.dialog, TransferDialog):
            self.turns.advance(Turn.THINKING)
            await self._speak(functools.partial(self.dialog.transfer_failed, reason))

    async def _resume(self, cut: Cut, heard: Heard) -> None:
        """A false interruption: say the rest of the cut utterance (a new stream, not from the start)."""
        log.info(
            "resuming after a false interruption",
            extra={
                "words": len(heard.text.split()),
                "speech_ms": heard.speech_ms,
                "rest_chars": len(cut.rest),
            },
        )
        metrics.RESUMES.inc()

        async def rest() -> AsyncIterator[str]:
            yield cut.rest

        self._heard = heard  # the resumption's latency is from the end of the backchannel
        await self._speak(rest, heard_before=cut.heard, ahead=cut.ahead)

    @traced("bot_turn")
    async def _speak(
        self,
        make_text: Callable[[], AsyncIterator[str]],
        heard_before: str = "",
        ahead: Ahead | None = None,
    ) -> None:
        """One bot reply; retried from the start (after the filler) when a provider fails.
        `heard_before`: of a resumed utterance, what the caller heard of it before the cut;
        `ahead`: its first sentence, synthesized while the caller was heard."""
        self.turns.advance(Turn.BOT_TURN)
        while True:
            try:
                speech = await self.speaker.play(make_text(), self._reply_timing(), ahead)
            except (ProviderError, TimeoutError) as exc:
                await self.failures.failed(exc)
                continue
            break
        if speech.interrupted:
            heard = joined(heard_before, speech.heard)
            self._cut = Cut(heard, speech.rest, time.monotonic(), self._synthesize_ahead(speech.rest))
        else:
            self.failures.succeeded()
        if speech.interrupted or heard_before:  # the context keeps what the caller heard
            self.dialog.record_heard(joined(heard_before, speech.heard))
        self.turns.advance(Turn.USER_TURN)

    def _synthesize_ahead(self, rest: str) -> Ahead | None:
        """The bot may resume with `rest`: its first sentence is synthesized while the caller is
        heard (dropped if it is a turn), so a resumption does not wait for TTS."""
        if not self.cfg.resume_after_false_stop or not rest.strip():
            return None
        return self.speaker.synthesize_ahead(split_sentences(rest)[0])

    def _reply_timing(self) -> ReplyTiming:
        """The timings of the next reply attempt: the first one answers the caller's utterance."""
        heard, self._heard = self._heard, None
        if heard is None:
            return ReplyTiming()
        return ReplyTiming(metrics.TurnTimer(heard.speech_end, heard.stt_seconds), heard.vad_speech_end_ms)

    @traced("user_turn")
    async def _listen(self) -> Heard:
        """USER_TURN: caller audio → STT until the end of the utterance; what was heard. Right
        after a barge-in, silence longer than `resume_silence_ms` ends it (the bot then resumes)."""
        resuming = self._cut is not None and self.cfg.resume_after_false_stop
        silence = self.cfg.resume_silence_ms / 1000 if resuming else None
        phrases = tuple(self.dialog.expected_phrases())
        if resuming and phrases:  # a grammar STT must be able to hear a backchannel as one
            phrases = (*phrases, *backchannel_phrases(self.cfg))
        while True:
            try:
                heard = await self.listener.listen(phrases, silence)
            except (ProviderError, TimeoutError) as exc:
                await self.failures.failed(exc)
                continue
            self.failures.succeeded()  # "N failures in a row": a recognised utterance ends the run
            return heard

    async def _play_filler(self) -> None:
        if self.res.filler is None:
            log.error("no filler to play")
            return
        await self.speaker.play_clip(self.res.filler)
