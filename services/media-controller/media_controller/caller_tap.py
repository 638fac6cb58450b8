"""The caller's audio, tapped: RTP in the caller's codec (Opus or G.711, forwarded by mediasoup to
our UDP socket) → reorder → decode → 16 kHz PCM in 20 ms frames → call-api, with VAD on every
frame (and each frame with the VAD's answer to `on_voice`, the barge-in detector); RFC 4733
telephone-event packets in the same stream go to the DTMF detector instead."""

import asyncio
import logging
import time
from collections.abc import Callable

from voicebot_protocol.media import CALLER_FRAME_BYTES, CALLER_PCM_RATE

from media_controller import metrics
from media_controller.call_codecs import OPUS, AudioDecoder, CodecSpec
from media_controller.dtmf import DigitPressed, DtmfDetector
from media_controller.jitter import ReorderBuffer
from media_controller.pacing import PacingClock
from media_controller.ratelimit import TokenBucket
from media_controller.rtp import RtpPacket, parse_rtp
from media_controller.vad import SpeechChange, SpeechDetector

log = logging.getLogger(__name__)

_FLUSH_AFTER = 0.060  # a gap not filled within this is skipped
_MAX_CONCEALED = 10  # lost packets replaced by silence, so later audio keeps its timing
_SILENT_FRAME = bytes(CALLER_FRAME_BYTES)


class CallerTap:
    def __init__(
        self,
        detector: SpeechDetector,
        *,
        jitter_depth: int,
        on_frame: Callable[[bytes], None],
        on_speech: Callable[[SpeechChange], None],
        logger: logging.LoggerAdapter[logging.Logger] | None = None,
        flood_guard: TokenBucket | None = None,
        on_digit: Callable[[DigitPressed], None] | None = None,
        on_voice: Callable[[bytes, float, bool, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        pacing: PacingClock | None = None,
    ) -> None:
        # A hostile caller's packet flood is dropped here, before any parsing or decoding.
        self.flood_guard = flood_guard or TokenBucket(rate=150.0, burst=300.0)
        self.detector = detector
        self.jitter_depth = jitter_depth
        self.on_frame = on_frame
        self.on_speech = on_speech
        self.on_digit = on_digit or (lambda digit: None)
        self.on_voice = on_voice  # (frame, arrival monotonic ms, voiced, its RMS)
        self.log = logger or log
        self.clock = clock  # monotonic seconds: the frames' arrival stamps (a benchmark's is fake)
        self.pacing = pacing  # the bot audio's clock: its due packets go before this caller's
        self.source: tuple[str, int] | None = None  # mediasoup's tap transport: the only accepted sender
        self.payload_type: int | None = None
        self.codec: CodecSpec = OPUS
        self.dtmf_payload_type: int | None = None
        self.packets = 0
        self.rejected = 0
        self.frames = 0
        self._ssrc: int | None = None
        self._last_sequence: int | None = None
        self.concealed = 0
        self._reorder: ReorderBuffer[RtpPacket] = ReorderBuffer(jitter_depth)
        self._decoder: AudioDecoder = self.codec.decoder(CALLER_PCM_RATE)
        self._dtmf = DtmfDetector()
        self._pcm = bytearray()
        self._flush_timer: asyncio.TimerHandle | None = None
        self._silence_timer: asyncio.TimerHandle | None = None
        self._silence_deadline = 0.0  # the event loop's time
        self.transport: asyncio.DatagramTransport | None = None

    def expect(
        self,
        source: tuple[str, int],
        payload_type: int,
        codec: CodecSpec = OPUS,
        dtmf_payload_type: int | None = None,
    ) -> None:
        """Accept RTP of this payload type and codec (and telephone-event packets of
        `dtmf_payload_type`, 8 kHz) from this address (a new consumer: start afresh)."""
        self.source = source
        self.payload_type = payload_type
        self.codec = codec
        self.dtmf_payload_type = dtmf_payload_type
        self._ssrc = None

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.pacing is not None:
            self.pacing.catch_up()
        if addr != self.source:
            self.rejected += 1
            return
        if not self.flood_guard.allow():
            metrics.CALLER_RTP_DROPPED.inc()  # and in flood_guard.refused
            return
        packet = parse_rtp(data)
        if packet is None or packet.payload_type not in (self.payload_type, self.dtmf_payload_type):
            return  # RTCP (rtcp-mux) or something that is not our audio
        if packet.ssrc != self._ssrc:
            self._restart(packet.ssrc)
        self.packets += 1
        self._play(self._reorder.push(packet.sequence, packet))
        self._schedule_flush()

    def close(self) -> None:
        for timer in (self._flush_timer, self._silence_timer):
            if timer is not None:
                timer.cancel()
        if self.transport is not None:
            self.transport.close()

    def _restart(self, ssrc: int) -> None:
        self._ssrc = ssrc
        self._last_sequence = None
        self._reorder = ReorderBuffer(self.jitter_depth)
        self._decoder = self.codec.decoder(CALLER_PCM_RATE)
        self._dtmf = DtmfDetector()
        self._pcm.clear()

    def _schedule_flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._reorder.holding:
            self._flush_timer = asyncio.get_running_loop().call_later(_FLUSH_AFTER, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        self._play(self._reorder.flush())

    def _play(self, packets: list[RtpPacket]) -> None:
        ready: list[bytes] = []  # whole frames decoded while nothing was pending: no copying
        for packet in packets:
            if self._last_sequence is not None:
                lost = (packet.sequence - self._last_sequence - 1) & 0xFFFF
                if 0 < lost <= _MAX_CONCEALED:
                    self._pcm += _SILENT_FRAME * lost
                    self.concealed += lost
            self._last_sequence = packet.sequence
            if packet.payload_type == self.dtmf_payload_type:
                self._digits(self._dtmf.feed(packet.timestamp, packet.payload))
                continue
            self._digits(self._dtmf.audio_resumed())
            try:
                pcm = self._decoder.decode(packet.payload)
            except ValueError as exc:  # the decoders' word for a corrupt payload
                self.log.debug("dropping an undecodable caller packet", extra={"error": str(exc)})
                continue
            if self._pcm or len(pcm) != CALLER_FRAME_BYTES:
                self._pcm += pcm
            else:
                ready.append(pcm)
        now_ms = self.clock() * 1000
        for frame in ready:
            self._frame(frame, now_ms)
        pending = self._pcm
        while len(pending) >= CALLER_FRAME_BYTES:
            frame = bytes(pending[:CALLER_FRAME_BYTES])
            del pending[:CALLER_FRAME_BYTES]
            self._frame(frame, now_ms)
        self._watch_silence()

    def _frame(self, frame: bytes, now_ms: float) -> None:
        self.frames += 1
        self.on_frame(frame)
        change = self.detector.feed(frame, now_ms)
        if change is not None:
            self.on_speech(change)
        if self.on_voice is not None:
            self.on_voice(frame, now_ms, self.detector.last_voiced, self.detector.last_rms)

    def _digits(self, pressed: list[DigitPressed]) -> None:
        for digit in pressed:
            self.on_digit(digit)

    def _watch_silence(self) -> None:
        """While the caller speaks, end the speech by the clock if their audio stops arriving. One
        timer at a time, moved on lazily: re-arming a timer on every packet was a timer handle and
        a heap push per caller packet."""
        if not self.detector.speaking:
            if self._silence_timer is not None:
                self._silence_timer.cancel()
                self._silence_timer = None
            return
        loop = asyncio.get_running_loop()
        self._silence_deadline = loop.time() + self.detector.hangover_ms / 1000 + 0.020
        if self._silence_timer is None:
            self._silence_timer = loop.call_at(self._silence_deadline, self._silence_elapsed)

    def _silence_elapsed(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() + 0.002 < self._silence_deadline:  # audio came since it was set: wait on
            self._silence_timer = loop.call_at(self._silence_deadline, self._silence_elapsed)
            return
        self._silence_timer = None
        change = self.detector.timeout(self.clock() * 1000)
        if change is not None:
            self.on_speech(change)
