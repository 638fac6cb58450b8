"""Opus: PCM s16le mono at any rate ⇄ 20 ms Opus packets (RTP clock 48 kHz).

The encoder is PyAV's (its bundled libopus): it takes 8, 12, 16, 24 and 48 kHz input as it is
(libopus codes those rates natively: no resampler, fewer samples), other rates are resampled to
48 kHz. The decoder is libopus itself (Debian's libopus0 through the opuslib-next bindings):
FFmpeg's opus and libopus decoders both yield 48 kHz whatever rate is asked for, which cost the
caller's audio a decode at 48 kHz and a resampler back down to 16 kHz on every packet."""

import ctypes

import av
import opuslib_next
from opuslib_next.api.decoder import libopus_decode as _opus_decode

from media_controller.pcm_frames import FrameEncoder, s16_frame_of

OPUS_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_BYTES = FRAME_SAMPLES * 2
NATIVE_RATES = (8000, 12000, 16000, 24000, 48000)
MAX_PACKET_MS = 120  # the longest Opus packet (RFC 6716)
DEFAULT_COMPLEXITY = 5  # libopus 0-10; 10 costs about twice as much for speech at 32 kbit/s


class OpusEncoder(FrameEncoder):
    """Feed PCM at `sample_rate` in pieces of any size; get whole 20 ms Opus packets out."""

    def __init__(self, sample_rate: int, bitrate: int = 32000, complexity: int = DEFAULT_COMPLEXITY) -> None:
        super().__init__(sample_rate, sample_rate if sample_rate in NATIVE_RATES else OPUS_RATE)
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.sample_rate = self.codec_rate
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._codec.bit_rate = bitrate
        self._codec.options = {"compression_level": str(complexity)}
        self._codec.open()
        self._pts = 0

    def _encode_frame(self, frame: bytes) -> list[bytes]:
        audio = s16_frame_of(frame, self.codec_rate)
        audio.pts = self._pts
        self._pts += self.frame_samples
        return [bytes(p) for p in self._codec.encode(audio)]

    def _drain(self) -> list[bytes]:
        return [bytes(p) for p in self._codec.encode(None)]


class OpusDecoder:
    """Opus payloads (any channel count) → PCM s16le mono at `output_rate` (one of NATIVE_RATES),
    each payload to its own duration of samples, decoded by libopus at that rate: the caller's
    16 kHz costs no resampling, and a SILK (speech) packet no upsampling to 48 kHz first — 18–20 µs a
    packet instead of 28–44 through FFmpeg's decoder and a resampler (`media.caller_tap`)."""

    def __init__(self, output_rate: int = 16000) -> None:
        if output_rate not in NATIVE_RATES:
            raise ValueError(f"opus decodes to {NATIVE_RATES} Hz, not {output_rate}")
        self._decoder = opuslib_next.Decoder(output_rate, 1)  # frees libopus's state when dropped
        self._max_samples = output_rate * MAX_PACKET_MS // 1000
        self._pcm = (ctypes.c_int16 * self._max_samples)()
        self._pcm_pointer = ctypes.cast(self._pcm, ctypes.POINTER(ctypes.c_int16))

    def decode(self, payload: bytes) -> bytes:
        """Raises ValueError on a corrupt payload; the caller drops that packet."""
        if not payload:  # libopus takes an empty packet for a lost one: 120 ms of concealment
            return b""
        samples = _opus_decode(
            self._decoder.decoder_state, payload, len(payload), self._pcm_pointer, self._max_samples, 0
        )
        if samples < 0:
            raise ValueError(f"opus: {opuslib_next.OpusError(samples)}")
        return ctypes.string_at(self._pcm, samples * 2)
