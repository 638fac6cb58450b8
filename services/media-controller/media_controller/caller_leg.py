"""The caller's side of a call: when the client produces the caller's audio, a consumer of it on a
controller-owned plain transport feeds the tap (jitter buffer, decoder, VAD) whose frames go to
call-api; caller speech while the bot plays is a barge-in when the barge-in detector (the VAD's
voiced frames, confirmed by Silero, minus the bot's own echo: docs/turn-taking.md) says so; the
caller's RFC 4733 key presses become `dtmf` events."""

import asyncio
import time

from voicebot_protocol.media import BargeInDetected, CallerSpeech, DtmfDetected

from media_controller import metrics
from media_controller.barge_in import BargeInDetector
from media_controller.bot_leg import BotLeg
from media_controller.call_codecs import media_codec_of, payload_type_of
from media_controller.caller_tap import CallerTap
from media_controller.dtmf import DigitPressed
from media_controller.errors import MediaError
from media_controller.ledger import ClientLedger
from media_controller.legs import CallMedia, PlainLeg, open_plain_leg
from media_controller.pacing import process_clock
from media_controller.playback import Playback
from media_controller.ratelimit import TokenBucket
from media_controller.vad import SpeechChange, SpeechDetector


class CallerLeg:
    def __init__(self, call: CallMedia, ledger: ClientLedger, bot: BotLeg) -> None:
        self.call = call
        self.ledger = ledger
        self.bot = bot
        self.tap: CallerTap | None = None
        self.producer_id: str | None = None  # the client's producer being tapped
        self._leg: PlainLeg | None = None
        self._tap_consumer_id: str | None = None
        settings = call.settings
        self.barge_in = BargeInDetector(settings.barge_in.detector_settings(settings.vad))
        bot.on_audio_sent = self._bot_sent

    async def open(self) -> None:
        vad = self.call.settings.vad
        self.tap = CallerTap(
            SpeechDetector(vad.aggressiveness, vad.onset_frames, vad.hangover_ms, vad.min_rms),
            jitter_depth=self.call.settings.caller.jitter_depth,
            on_frame=self.call.outbox.audio,
            on_speech=self._speech,
            on_digit=self._digit,
            on_voice=self._voice,
            logger=self.call.log,
            pacing=process_clock(),
            flood_guard=TokenBucket(
                self.call.settings.policy.caller_rtp_pps, self.call.settings.policy.caller_rtp_burst
            ),
        )
        self._leg = await open_plain_leg(self.call, self.tap.on_datagram)
        self.tap.transport = self._leg.udp
        self.ledger.internal.add(self._leg.transport_id)

    def close(self) -> None:
        if self.tap is not None:  # it closes the leg's socket
            self.tap.close()
            self.tap = None
        self.barge_in.close()

    async def tap_producer(self, producer_id: str) -> None:
        """Consume the caller's new audio producer onto the tap leg and watch its audio level."""
        assert self._leg is not None and self.tap is not None
        request, log = self.call.request, self.call.log
        if self._tap_consumer_id is not None:
            await request("close", {"kind": "consumer", "id": self._tap_consumer_id})
            self._set_tap_consumer(None)
        try:
            consumed = await request(
                "consume", {"transport_id": self._leg.transport_id, "producer_id": producer_id}
            )
        except MediaError:
            log.error(
                "cannot tap the caller's audio; closing the producer", extra={"producer_id": producer_id}
            )
            self.ledger.remove_producer(producer_id)
            await request("close", {"kind": "producer", "id": producer_id})
            raise
        self._set_tap_consumer(str(consumed["consumer_id"]))
        self.producer_id = producer_id
        rtp = consumed.get("rtp_parameters") or {}
        carrier = self.ledger.dtmf_carriers.get(producer_id)
        media = media_codec_of(rtp, carrier)
        if media is None:  # the router offers only codecs we decode: mediasoup answered oddly
            log.error("the caller's codec cannot be decoded", extra={"rtp_parameters": rtp})
            return
        codec, payload_type = media
        dtmf_payload_type = payload_type_of(rtp, carrier)
        self.tap.expect((self._leg.ip, self._leg.port), payload_type, codec, dtmf_payload_type)
        if codec != self.call.codec:
            log.warning(
                "the caller's codec is not the call's: the bot sends in the call's codec",
                extra={"caller_codec": codec.name, "call_codec": self.call.codec.name},
            )
        try:
            await request(
                "audioLevel.observe",
                {"producer_id": producer_id, "threshold": self.call.settings.caller.audio_level_threshold},
            )
        except MediaError as exc:  # the VAD still detects barge-in; the observer is a second opinion
            log.warning("audio level observer not started", extra={"error": exc.message})
        log.info(
            "caller audio tapped",
            extra={
                "producer_id": producer_id,
                "consumer_id": self._tap_consumer_id,
                "codec": codec.name,
                "dtmf_payload_type": dtmf_payload_type,
            },
        )

    def producer_closed(self, producer_id: str) -> None:
        if producer_id == self.producer_id:
            self.producer_id = None
            self._set_tap_consumer(None)  # mediasoup closes a consumer with its producer

    def _set_tap_consumer(self, consumer_id: str | None) -> None:
        if self._tap_consumer_id is not None:
            self.ledger.internal.discard(self._tap_consumer_id)
        self._tap_consumer_id = consumer_id
        if consumer_id is not None:
            self.ledger.internal.add(consumer_id)

    def _digit(self, pressed: DigitPressed) -> None:
        at_ms = time.monotonic() * 1000
        metrics.DTMF_DIGITS.inc()
        self.call.outbox.event(
            DtmfDetected(digit=pressed.digit, duration_ms=pressed.duration_ms, at_ms=at_ms)
        )
        self.call.log.info("dtmf digit", extra={"digit": pressed.digit, "duration_ms": pressed.duration_ms})

    # --- barge-in -------------------------------------------------------------------------------

    def _speech(self, change: SpeechChange) -> None:
        """The VAD's turn segmentation, for call-api's listener (not the barge-in decision)."""
        self.call.outbox.event(CallerSpeech(speaking=change.speaking, at_ms=change.at_ms))

    def _bot_sent(self, pcm: bytes, rate: int) -> None:
        self.barge_in.bot_sent(pcm, time.monotonic() * 1000, rate)

    def _voice(self, frame: bytes, now_ms: float, voiced: bool, rms: float) -> None:
        # Nothing to interrupt (no playback, or its barge-in already reported: a caller talking over
        # a prompt that is not interruptible): the frame only fills the echo guard's window, with no
        # Silero and no echo search, so a caller talking over the bot costs no more than silence.
        playback = self.bot.playing()
        voiced = voiced and playback is not None and not playback.barge_in_reported
        onset = self.barge_in.push(frame, now_ms, voiced=voiced, rms=rms)
        if onset is not None:
            self._barge_in("vad", onset.at_ms, onset.detected_ms)

    def audio_level_barge_in(self, at_epoch_ms: float | None) -> None:
        """The service's AudioLevelObserver heard the caller while the bot spoke: a barge-in only
        when configured so (it hears a noise burst or the bot's echo as loud as speech)."""
        if not self.call.settings.barge_in.audio_level:
            self.call.log.debug("audio level above the threshold while the bot speaks (not a barge-in)")
            return
        now_ms = time.monotonic() * 1000
        onset_ms = now_ms
        if at_epoch_ms is not None:
            onset_ms = min(now_ms, now_ms - (time.time() * 1000 - at_epoch_ms))
        self._barge_in("audio_level", onset_ms, now_ms)

    def _barge_in(self, source: str, onset_ms: float, detected_ms: float) -> None:
        playback = self.bot.playing()
        if playback is None or playback.barge_in_reported:
            return
        playback.barge_in_reported = True
        metrics.BARGE_INS.labels(source).inc()
        event = BargeInDetected(onset_ms=onset_ms, detected_ms=detected_ms, source=source)  # type: ignore[arg-type]
        self.call.outbox.event(event)
        queued_ms = time.monotonic() * 1000
        # The event woke the outbox's writer: it goes to call-api first, the bot's stop and the log
        # one callback later (they took 1–5 ms on a loaded host, all of it before the event could
        # leave); the stop waits only for the writer and what was already due in this loop turn.
        asyncio.get_running_loop().call_soon(
            self._after_barge_in, playback, source, onset_ms, detected_ms, queued_ms
        )

    def _after_barge_in(
        self, playback: Playback, source: str, onset_ms: float, detected_ms: float, queued_ms: float
    ) -> None:
        self.bot.interrupt(playback)  # after the event: call-api hears of the barge-in first
        self.call.log.info(
            "barge-in detected",
            extra={
                "stream_id": playback.stream_id,
                "source": source,
                "latency_ms": round(detected_ms - onset_ms, 1),
                "interruptible": playback.interruptible,
                # Monotonic ms (bench/README.md, "Clocks"): the run's first frame and the deciding
                # frame arrived, the event was queued for call-api (after the detector's work).
                "onset_ms": round(onset_ms, 1),
                "detected_ms": round(detected_ms, 1),
                "queued_at_ms": round(queued_ms, 1),
            },
        )
