"""G.711 (PCMU = μ-law, PCMA = A-law) via PyAV's pcm_mulaw / pcm_alaw: PCM s16le mono at any
rate ⇄ 20 ms payloads at 8 kHz (160 samples, one byte each). Resampling is PyAV's resampler."""

from typing import Literal

import av
import numpy as np

from media_controller.pcm_frames import frame_bytes, s16_frame

G711_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2  # of s16 PCM

G711Codec = Literal["pcm_mulaw", "pcm_alaw"]


class G711Encoder:
    """Feed PCM at `sample_rate` in pieces of any size; get whole 20 ms G.711 payloads out."""

    def __init__(self, codec: G711Codec, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=G711_RATE)
        self._codec = av.CodecContext.create(codec, "w")
        self._codec.sample_rate = G711_RATE
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._codec.open()
        self._pending = bytearray()  # 8 kHz PCM not yet a whole frame
        self._odd_byte = b""
        self._pts = 0

    def encode(self, pcm: bytes) -> list[bytes]:
        data = self._odd_byte + pcm
        cut = len(data) - len(data) % 2
        self._odd_byte = data[cut:]
        if cut == 0:
            return []
        samples = np.frombuffer(data[:cut], dtype=np.int16)
        for out in self._resampler.resample(s16_frame(samples, self.sample_rate)):
            self._pending += frame_bytes(out)
        return self._encode_whole_frames()

    def flush(self) -> list[bytes]:
        """The resampler's remainder, padded with silence to a whole frame (G.711 has no delay)."""
        for out in self._resampler.resample(None):
            self._pending += frame_bytes(out)
        if self._pending:
            self._pending += bytes(FRAME_BYTES - len(self._pending) % FRAME_BYTES)
        return self._encode_whole_frames()

    def _encode_whole_frames(self) -> list[bytes]:
        payloads: list[bytes] = []
        while len(self._pending) >= FRAME_BYTES:
            chunk = np.frombuffer(bytes(self._pending[:FRAME_BYTES]), dtype=np.int16)
            del self._pending[:FRAME_BYTES]
            frame = s16_frame(chunk, G711_RATE)
            frame.pts = self._pts
            self._pts += FRAME_SAMPLES
            payloads.append(b"".join(bytes(p) for p in self._codec.encode(frame)))
        return payloads


class G711Decoder:
    """G.711 payloads (any length) → PCM s16le mono at `output_rate`."""

    def __init__(self, codec: G711Codec, output_rate: int = 16000) -> None:
        self._codec = av.CodecContext.create(codec, "r")
        self._codec.sample_rate = G711_RATE
        self._codec.layout = "mono"
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=output_rate)

    def decode(self, payload: bytes) -> bytes:
        out = bytearray()
        for frame in self._codec.decode(av.Packet(payload)):
            for resampled in self._resampler.resample(frame):
                out += frame_bytes(resampled)
        return bytes(out)
