"""Opus via PyAV (bundled libopus): PCM s16le mono at any rate ⇄ 20 ms Opus packets at 48 kHz."""

import av
import numpy as np

from media_controller.pcm_frames import frame_bytes as _frame_bytes
from media_controller.pcm_frames import s16_frame as _s16_frame

OPUS_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_BYTES = FRAME_SAMPLES * 2


class OpusEncoder:
    """Feed PCM at `sample_rate` in pieces of any size; get whole 20 ms Opus packets out."""

    def __init__(self, sample_rate: int, bitrate: int = 32000) -> None:
        self.sample_rate = sample_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.sample_rate = OPUS_RATE
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._codec.bit_rate = bitrate
        self._codec.open()
        self._pending = bytearray()  # 48 kHz PCM not yet a whole frame
        self._odd_byte = b""
        self._pts = 0

    def encode(self, pcm: bytes) -> list[bytes]:
        data = self._odd_byte + pcm
        cut = len(data) - len(data) % 2
        self._odd_byte = data[cut:]
        if cut == 0:
            return []
        samples = np.frombuffer(data[:cut], dtype=np.int16)
        for out in self._resampler.resample(_s16_frame(samples, self.sample_rate)):
            self._pending += _frame_bytes(out)
        return self._encode_whole_frames()

    def flush(self) -> list[bytes]:
        """The tail: resampler remainder, padded with silence to a whole frame, and the codec's delay."""
        for out in self._resampler.resample(None):
            self._pending += _frame_bytes(out)
        if self._pending:
            self._pending += bytes(FRAME_BYTES - len(self._pending) % FRAME_BYTES)
        packets = self._encode_whole_frames()
        packets += [bytes(p) for p in self._codec.encode(None)]
        return packets

    def _encode_whole_frames(self) -> list[bytes]:
        packets: list[bytes] = []
        while len(self._pending) >= FRAME_BYTES:
            chunk = np.frombuffer(bytes(self._pending[:FRAME_BYTES]), dtype=np.int16)
            del self._pending[:FRAME_BYTES]
            frame = _s16_frame(chunk, OPUS_RATE)
            frame.pts = self._pts
            self._pts += FRAME_SAMPLES
            packets += [bytes(p) for p in self._codec.encode(frame)]
        return packets


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
                out += _frame_bytes(resampled)
        return bytes(out)
