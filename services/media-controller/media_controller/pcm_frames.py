"""PCM s16le mono ⇄ PyAV audio frames, and what every codec's encoder shares: PCM in pieces of
any size at any rate → the codec's rate → whole 20 ms frames → one payload each (`FrameEncoder`)."""

import av
import numpy as np


def s16_frame(samples: np.ndarray, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


def s16_frame_of(pcm: bytes, rate: int) -> av.AudioFrame:
    """A frame holding `pcm` (s16le mono): a copy into PyAV's buffer, no numpy array in between."""
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
    frame.planes[0].update(pcm)
    frame.sample_rate = rate
    return frame


def frame_bytes(frame: av.AudioFrame) -> bytes:
    """The samples of an s16 mono frame (its buffer may be padded past them)."""
    return bytes(memoryview(frame.planes[0])[: frame.samples * 2])


class FrameEncoder:
    """Feed PCM at `sample_rate` in pieces of any size; get whole 20 ms payloads out. A codec
    supplies `_encode_frame` (one 20 ms frame of s16 PCM at `codec_rate` → its payloads) and, if it
    has a delay, `_drain`. No resampler when the input is already at the codec's rate."""

    def __init__(self, sample_rate: int, codec_rate: int) -> None:
        self.sample_rate = sample_rate
        self.codec_rate = codec_rate
        self.frame_samples = codec_rate // 50
        self.frame_bytes = self.frame_samples * 2
        self._resampler = (
            None
            if sample_rate == codec_rate
            else av.AudioResampler(format="s16", layout="mono", rate=codec_rate)
        )
        self._pending = bytearray()  # PCM at codec_rate not yet a whole frame
        self._odd_byte = b""

    def encode(self, pcm: bytes) -> list[bytes]:
        data = self._odd_byte + pcm if self._odd_byte else pcm
        cut = len(data) - len(data) % 2
        self._odd_byte = data[cut:]
        if cut:
            self._take(data[:cut] if cut < len(data) else data)
        return self._whole_frames()

    def flush(self) -> list[bytes]:
        """The tail: the resampler's remainder, padded with silence to a whole frame, the codec's delay."""
        if self._resampler is not None:
            for out in self._resampler.resample(None):
                self._pending += frame_bytes(out)
        if self._pending:
            self._pending += bytes(self.frame_bytes - len(self._pending) % self.frame_bytes)
        return self._whole_frames() + self._drain()

    def _take(self, pcm: bytes) -> None:
        if self._resampler is None:
            self._pending += pcm
            return
        for out in self._resampler.resample(s16_frame_of(pcm, self.sample_rate)):
            self._pending += frame_bytes(out)

    def _whole_frames(self) -> list[bytes]:
        size = self.frame_bytes
        count = len(self._pending) // size
        if not count:
            return []
        block = bytes(self._pending[: count * size])
        del self._pending[: count * size]
        payloads: list[bytes] = []
        for start in range(0, len(block), size):
            payloads += self._encode_frame(block[start : start + size])
        return payloads

    def _encode_frame(self, frame: bytes) -> list[bytes]:
        raise NotImplementedError

    def _drain(self) -> list[bytes]:
        return []
