"""Opus via PyAV (bundled libopus): PCM s16le mono at any rate ⇄ 20 ms Opus packets (RTP clock
48 kHz). The encoder takes 8, 12, 16, 24 and 48 kHz input as it is (libopus codes those rates
natively: no resampler, fewer samples), other rates are resampled to 48 kHz."""

import av

from media_controller.pcm_frames import FrameEncoder, frame_bytes, s16_frame_of

OPUS_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_BYTES = FRAME_SAMPLES * 2
NATIVE_RATES = (8000, 12000, 16000, 24000, 48000)
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
    """Opus payloads (any channel count) → PCM s16le mono at `output_rate`."""

    def __init__(self, output_rate: int = 16000) -> None:
        self._codec = av.CodecContext.create("opus", "r")
        self._codec.sample_rate = OPUS_RATE
        self._codec.layout = "mono"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=output_rate)

    def decode(self, payload: bytes) -> bytes:
        """Raises av.error.FFmpegError on a corrupt payload; the caller drops that packet."""
        out = bytearray()
        for frame in self._codec.decode(av.Packet(payload)):
            for resampled in self._resampler.resample(frame):
                out += frame_bytes(resampled)
        return bytes(out)
