"""Opus via PyAV (bundled libopus): PCM s16le mono at any rate ⇄ 20 ms Opus packets (RTP clock
48 kHz). The encoder takes 8, 12, 16, 24 and 48 kHz input as it is (libopus codes those rates
natively: no resampler, fewer samples), other rates are resampled to 48 kHz.

The decoder always yields 48 kHz (FFmpeg's opus and libopus decoders both set 48 kHz whatever
rate is asked for), so the caller's audio goes through PyAV's resampler (libswresample) to 16 kHz:
its filter graph is driven directly, one frame in and one out per packet (`AudioResampler` pulled
until the graph raised EAGAIN: an exception per packet, a third of the resampling's cost)."""

from typing import cast

import av
import av.error
from av.filter import Graph

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
    """Opus payloads (any channel count) → PCM s16le mono at `output_rate`, each payload to its
    own duration of samples: what the resampler keeps of the stream's first frame (its filter's
    delay, 16 samples at 16 kHz) is silence at the start instead of samples held back, which made
    every caller frame wait for the next packet."""

    def __init__(self, output_rate: int = 16000) -> None:
        self._codec = av.CodecContext.create("opus", "r")
        self._codec.sample_rate = OPUS_RATE
        self._codec.layout = "mono"
        self._output_rate = output_rate
        self._resampler: _Resampler | None = None

    def decode(self, payload: bytes) -> bytes:
        """Raises av.error.FFmpegError on a corrupt payload, or on a frame unlike the stream's
        first (the resampler's source refuses it); the caller drops that packet."""
        out = b""
        for frame in self._codec.decode(av.Packet(payload)):
            if self._resampler is not None:
                out += self._resampler.resample(frame)
                continue
            self._resampler = _Resampler(frame, self._output_rate)
            pcm = self._resampler.resample(frame)
            kept = 2 * (frame.samples * self._output_rate // frame.sample_rate) - len(pcm)
            out += bytes(max(kept, 0)) + pcm
        return out


class _Resampler:
    """abuffer → aformat (s16, mono, the output rate: FFmpeg inserts its aresample) → abuffersink,
    the graph `av.AudioResampler` builds, for frames like `first`."""

    def __init__(self, first: av.AudioFrame, output_rate: int) -> None:
        self._graph = Graph()
        source = self._graph.add(
            "abuffer",
            sample_rate=str(first.sample_rate),
            sample_fmt=first.format.name,
            channel_layout=first.layout.name,
        )
        convert = self._graph.add(
            "aformat", sample_rates=str(output_rate), sample_fmts="s16", channel_layouts="mono"
        )
        sink = self._graph.add("abuffersink")
        source.link_to(convert)
        convert.link_to(sink)
        self._graph.configure()

    def resample(self, frame: av.AudioFrame) -> bytes:
        self._graph.push(frame)
        try:
            converted = cast(av.AudioFrame, self._graph.pull())  # an audio graph's sink
        except av.error.BlockingIOError:  # nothing out yet (the filter's delay)
            return b""
        return frame_bytes(converted)
