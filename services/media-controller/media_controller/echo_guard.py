"""Echo guard: is this caller frame the bot's own audio coming back?

The media plane knows exactly what it sent and when. A phone line returns it attenuated and 40–250 ms
late; a caller frame that a delayed copy of the bot's recent output explains is not the caller
speaking. The test is the normalised cross-correlation of the caller frame with the bot's output
over every delay in the window (sample resolution), taking the best."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

RATE = 16000  # the caller leg's PCM (voicebot_protocol.media.CALLER_PCM_RATE)

MIN_DELAY_MS = 40.0
MAX_DELAY_MS = 250.0
CALLER_WINDOW_MS = 60.0  # caller audio compared: the frame and the two before it
SETTLE_THRESHOLD = 0.8  # a match this good is evidence of the line's echo delay
ECHO_THRESHOLD = 0.6  # |NCC| at or above: the frame is the bot's echo (≥ 36 % of its energy explained)


class SentFrame:
    """A frame the bot sent at `at_ms` (the caller frames' clock): 16 kHz `samples`, or `pcm` (s16le)
    at `rate`, brought to 16 kHz only when first compared (most sent frames never are)."""

    __slots__ = ("_pcm", "_rate", "_samples", "at_ms")

    def __init__(
        self, at_ms: float, samples: np.ndarray | None = None, *, pcm: bytes = b"", rate: int = RATE
    ) -> None:
        self.at_ms = at_ms
        self._samples = samples
        self._pcm = pcm
        self._rate = rate

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._samples = to_16k(self._pcm, self._rate)
        return self._samples


def to_16k(pcm: bytes, rate: int) -> np.ndarray:
    """s16le PCM at `rate` as 16 kHz samples (linear interpolation: the line band-limits the echo
    to 3.4 kHz anyway, so aliasing above it barely moves the correlation)."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    if rate == RATE or not samples.size:
        return samples
    count = round(len(samples) * RATE / rate)
    return np.interp(np.arange(count) * (rate / RATE), np.arange(len(samples)), samples)


@dataclass(frozen=True, slots=True)
class EchoMatch:
    correlation: float  # best |NCC| over the delay window, 0 when there is nothing to compare
    delay_ms: float
    level_ratio: float = 0.0  # RMS of the caller audio / RMS of the bot's output at that delay


NO_MATCH = EchoMatch(0.0, 0.0)


def bot_output_window(sent: Iterable[SentFrame], start_ms: float, length: int) -> np.ndarray:
    """The bot's output from `start_ms` on, `length` samples, as float; silence where nothing was sent."""
    out = np.zeros(length)
    for frame in sent:
        offset = round((frame.at_ms - start_ms) * RATE / 1000)
        lo, hi = max(0, offset), min(length, offset + len(frame.samples))
        if lo < hi:
            out[lo:hi] = frame.samples[lo - offset : hi - offset]
    return out


def echo_match(
    sent: Iterable[SentFrame],
    caller_audio: np.ndarray,
    now_ms: float,
    min_delay_ms: float = MIN_DELAY_MS,
    max_delay_ms: float = MAX_DELAY_MS,
    around_delay_ms: float | None = None,
    tolerance_ms: float = 2.0,
) -> EchoMatch:
    """Best match of `caller` (int16, its last sample arrived at `now_ms`) against the bot's output
    sent `min_delay_ms`..`max_delay_ms` earlier (only `around_delay_ms` ± `tolerance_ms` once the
    line's delay is known: `settled_delay`). Pass the last 60 ms or so, not one 20 ms frame: over
    a few thousand lags, one frame of unrelated speech finds a chance match of 0.6–0.7 too often."""
    caller = caller_audio.astype(np.float64)
    length = len(caller)
    caller_energy = float(caller @ caller)
    if caller_energy == 0.0:
        return NO_MATCH
    if around_delay_ms is not None:  # only the settled delay's neighbourhood: a narrower window
        min_delay_ms = max(min_delay_ms, around_delay_ms - tolerance_ms)
        max_delay_ms = min(max_delay_ms, around_delay_ms + tolerance_ms)
    start_ms = now_ms - length * 1000 / RATE - max_delay_ms
    span = length + round((max_delay_ms - min_delay_ms) * RATE / 1000)
    bot = bot_output_window(sent, start_ms, span)
    cumulative = np.concatenate([[0.0], np.cumsum(bot * bot)])
    window_energy = cumulative[length:] - cumulative[:-length]  # energy of each lag's slice
    if not window_energy.any():
        return NO_MATCH
    products = _sliding_products(bot, caller)
    with np.errstate(divide="ignore", invalid="ignore"):
        ncc = np.where(
            window_energy > 1e-9 * caller_energy,
            np.abs(products) / np.sqrt(window_energy * caller_energy),
            0.0,
        )
    best = int(np.argmax(ncc))
    ratio = float(np.sqrt(caller_energy / window_energy[best])) if window_energy[best] > 0 else 0.0
    return EchoMatch(float(ncc[best]), max_delay_ms - best * 1000 / RATE, ratio)


def _fft_size(at_least: int) -> int:
    """The smallest 2^a·3^b·5^c ≥ `at_least`: numpy's FFT is fast on those, slow on large primes."""
    best = 1 << max(at_least - 1, 1).bit_length()
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            size = power35
            while size < at_least:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


def _sliding_products(bot: np.ndarray, caller: np.ndarray) -> np.ndarray:
    """caller · bot[k : k + len(caller)] for every k: directly for a few lags, by FFT for many."""
    lags = len(bot) - len(caller) + 1
    if lags <= 128:
        return np.correlate(bot, caller, mode="valid")
    size = _fft_size(len(bot))  # ≥ len(bot): the lags kept never wrap around
    return np.fft.irfft(np.fft.rfft(bot, size) * np.conj(np.fft.rfft(caller, size)), size)[:lags]


def is_echo(match: EchoMatch, threshold: float = ECHO_THRESHOLD) -> bool:
    return match.correlation >= threshold


def settled_delay(recent_delays: Sequence[float], agree: int = 5, tolerance_ms: float = 1.0) -> float | None:
    """The line's echo delay once `agree` of the recent confident matches agree on it (a phone line's
    echo path is fixed for the call), else None. Unrelated speech (synthetic speech especially) finds
    a chance match now and then, but each at its own delay, so none settles."""
    for delay in recent_delays:
        if sum(abs(other - delay) <= tolerance_ms for other in recent_delays) >= agree:
            return float(np.median([d for d in recent_delays if abs(d - delay) <= tolerance_ms]))
    return None
