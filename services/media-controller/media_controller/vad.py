"""Caller speech detection on 20 ms frames of 16 kHz PCM with webrtcvad.

A frame counts as voiced when webrtcvad says so AND its RMS level reaches `min_rms`: webrtcvad keeps
calling the near-silent frames after a loud burst "speech" for a while, which would let a click or a
cough onset pass the onset rule. Speech starts after `onset_frames` consecutive voiced frames
(reported at the arrival time of the first one) and ends after `hangover_ms` without a voiced frame
(reported at the last voiced one's)."""

import math
from dataclasses import dataclass

import numpy as np
import webrtcvad


def frame_rms(frame: bytes) -> float:
    """RMS of a frame of s16le PCM."""
    # A dot product, not np.mean: it runs on every caller frame, and mean's overhead was 3x the sum.
    samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
    return math.sqrt(float(samples @ samples) / samples.size) if samples.size else 0.0


@dataclass(frozen=True, slots=True)
class SpeechChange:
    speaking: bool
    at_ms: float  # monotonic ms: onset of the speech, or end of its last voiced frame
    detected_ms: float  # monotonic ms when the detector decided


class SpeechDetector:
    def __init__(
        self, aggressiveness: int = 2, onset_frames: int = 3, hangover_ms: int = 400, min_rms: float = 0.0
    ) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self.min_rms = min_rms
        self.onset_frames = onset_frames
        self.hangover_ms = hangover_ms
        self.speaking = False
        self.last_voiced = False  # the latest frame's answer (the barge-in detector builds on it)
        self.last_rms = 0.0  # and the RMS it was based on
        self._run = 0  # consecutive voiced frames
        self._run_start_ms = 0.0
        self._last_voiced_end_ms = 0.0

    def feed(self, frame: bytes, at_ms: float, sample_rate: int = 16000) -> SpeechChange | None:
        """`at_ms`: monotonic ms at which this frame arrived."""
        rms = self.last_rms = frame_rms(frame)
        voiced = self.last_voiced = rms >= self.min_rms and self._vad.is_speech(frame, sample_rate)
        if voiced:
            if self._run == 0:
                self._run_start_ms = at_ms
            self._run += 1
            self._last_voiced_end_ms = at_ms
            if not self.speaking and self._run >= self.onset_frames:
                self.speaking = True
                return SpeechChange(True, self._run_start_ms, at_ms)
            return None
        self._run = 0
        if self.speaking and at_ms - self._last_voiced_end_ms >= self.hangover_ms:
            self.speaking = False
            return SpeechChange(False, self._last_voiced_end_ms, at_ms)
        return None

    def timeout(self, now_ms: float) -> SpeechChange | None:
        """No audio at all for a while (the sender stopped, or DTX): end speech by the clock."""
        if self.speaking and now_ms - self._last_voiced_end_ms >= self.hangover_ms:
            self.speaking = False
            self._run = 0
            return SpeechChange(False, self._last_voiced_end_ms, now_ms)
        return None
