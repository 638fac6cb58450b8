"""8 → 16 kHz for the caller's G.711 audio: a fixed 2x interpolation, a few numpy calls per payload.

A half-band low-pass (windowed sinc, cut-off 4 kHz) as two polyphase branches: every other output
sample is an input sample as it is, the others are `TAPS` input samples weighted. The branches
keep the filter's last inputs between payloads, so a stream of payloads decodes exactly as one
signal would, each payload to twice its samples at once (the filter's delay, 23 samples at 16 kHz
= 1.4 ms, is inside the signal: nothing is held back). Against PyAV's resampler (libswresample,
which held 2 ms back) the output differs by less than -45 dB on speech."""

import numpy as np

TAPS = 24  # per branch (even); 12 gave 32 dB against libswresample on speech, 24 gives 47 dB
_KAISER_BETA = 7.0
_HISTORY = TAPS - 1  # inputs the interpolating branch needs before the payload's first
_CENTRE = TAPS // 2  # where, in the window, the input of the first centre-tap sample is
_INT16_MIN, _INT16_MAX = -32768.0, 32767.0


def half_band_taps(taps: int = TAPS, beta: float = _KAISER_BETA) -> np.ndarray:
    """The interpolating branch of a 2x half-band filter (2·taps − 1 long at 16 kHz, gain 2 folded
    in: the other branch is its centre tap, 1)."""
    length = 2 * taps - 1
    offsets = np.arange(length) - (length - 1) / 2
    full = np.sinc(offsets / 2) * np.kaiser(length, beta)
    return full[0::2].astype(np.float32)


_BRANCH = half_band_taps()


class Upsampler2x:
    """One stream: feed int16 samples at 8 kHz in pieces of any size, get s16le at 16 kHz back."""

    def __init__(self) -> None:
        self._history = np.zeros(_HISTORY, dtype=np.float32)

    def upsample(self, samples: np.ndarray) -> bytes:
        count = samples.size
        window = np.concatenate((self._history, samples), dtype=np.float32)
        interpolated = np.convolve(window, _BRANCH, "valid")
        # In place, ufuncs only: np.clip and fresh arrays were a third of the time per payload.
        np.minimum(interpolated, _INT16_MAX, out=interpolated)
        np.maximum(interpolated, _INT16_MIN, out=interpolated)
        np.rint(interpolated, out=interpolated)
        out = np.empty(2 * count, dtype=np.int16)
        out[0::2] = interpolated
        # The centre tap: input m - (TAPS/2 - 1), as delayed as the interpolating branch's middle.
        out[1::2] = window[_CENTRE : _CENTRE + count]
        self._history = window[count:]
        return out.tobytes()
