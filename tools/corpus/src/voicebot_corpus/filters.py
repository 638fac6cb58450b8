"""Linear-phase FIR filters (windowed sinc), enough to shape noise and to band-limit a phone line."""

import numpy as np

from voicebot_corpus.levels import RATE


def band_pass(audio: np.ndarray, low_hz: float, high_hz: float, taps: int = 129) -> np.ndarray:
    """Keeps `low_hz`..`high_hz`; same length as `audio`, no delay (the filter is centred)."""
    n = np.arange(taps) - (taps - 1) / 2
    high = 2 * high_hz / RATE * np.sinc(2 * high_hz / RATE * n)
    low = 2 * low_hz / RATE * np.sinc(2 * low_hz / RATE * n)
    kernel = (high - low) * np.hamming(taps)
    return np.convolve(audio, kernel, mode="same")
