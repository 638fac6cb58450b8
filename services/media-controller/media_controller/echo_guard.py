"""Echo guard: is this caller frame the bot's own audio coming back?

The media plane knows exactly what it sent and when. A phone line returns it attenuated and 40–250 ms
late; a caller frame that a delayed copy of the bot's recent output explains is not the caller
speaking. The test is the normalised cross-correlation of the caller frame with the bot's output
over every delay in the window (sample resolution), taking the best."""

import functools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from media_controller.frame_clock import FrameClock

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
    if around_delay_ms is not None:  # only the settled delay's neighbourhood: a narrower window
        min_delay_ms = max(min_delay_ms, around_delay_ms - tolerance_ms)
        max_delay_ms = min(max_delay_ms, around_delay_ms + tolerance_ms)
    return echo_matches(sent, caller_audio, now_ms, min_delay_ms, max_delay_ms)[0]


def echo_matches(
    sent: Iterable[SentFrame],
    caller_audio: np.ndarray,
    now_ms: float,
    min_delay_ms: float = MIN_DELAY_MS,
    max_delay_ms: float = MAX_DELAY_MS,
    last_samples: int = 0,
) -> tuple[EchoMatch, EchoMatch]:
    """`echo_match` of the whole `caller_audio` and, when `last_samples`, of its last samples alone
    (NO_MATCH otherwise): both from one copy of the bot's output and one transform of it."""
    caller = caller_audio.astype(np.float64)
    length = len(caller)
    if not caller @ caller:
        return NO_MATCH, NO_MATCH
    start_ms = now_ms - length * 1000 / RATE - max_delay_ms
    span = length + round((max_delay_ms - min_delay_ms) * RATE / 1000)
    bot = bot_output_window(sent, start_ms, span)
    cumulative = np.concatenate([[0.0], np.cumsum(bot * bot)])
    callers = [caller]
    if last_samples:  # the last samples alone: the caller audio with the rest zeroed, same lags
        callers.append(np.concatenate([np.zeros(length - last_samples), caller[length - last_samples :]]))
    products = _sliding_products(bot, callers)
    found = [NO_MATCH, NO_MATCH]
    for n, (heard, product) in enumerate(zip(callers, products, strict=True)):
        used = length if n == 0 else last_samples
        energy = cumulative[length:] - cumulative[length - used : len(cumulative) - used]
        found[n] = _best(product, energy, float(heard @ heard), max_delay_ms)
    return found[0], found[1]


def _best(
    products: np.ndarray, window_energy: np.ndarray, caller_energy: float, max_delay_ms: float
) -> EchoMatch:
    """The best |NCC| over the lags, given each lag's product and the bot's energy under it."""
    if caller_energy == 0.0 or not window_energy.any():
        return NO_MATCH
    with np.errstate(divide="ignore", invalid="ignore"):
        ncc = np.where(
            window_energy > 1e-9 * caller_energy,
            np.abs(products) / np.sqrt(window_energy * caller_energy),
            0.0,
        )
    best = int(np.argmax(ncc))
    ratio = float(np.sqrt(caller_energy / window_energy[best])) if window_energy[best] > 0 else 0.0
    return EchoMatch(float(ncc[best]), max_delay_ms - best * 1000 / RATE, ratio)


@functools.cache
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


def _sliding_products(bot: np.ndarray, callers: list[np.ndarray]) -> list[np.ndarray]:
    """caller · bot[k : k + len(caller)] for every k, for each caller (all of one length): directly
    for a few lags, by FFT for many (the bot's transformed once)."""
    lags = len(bot) - len(callers[0]) + 1
    if lags <= 128:
        return [np.correlate(bot, caller, mode="valid") for caller in callers]
    size = _fft_size(len(bot))  # ≥ len(bot): the lags kept never wrap around
    spectrum = np.fft.rfft(bot, size)
    return [np.fft.irfft(spectrum * np.conj(np.fft.rfft(caller, size)), size)[:lags] for caller in callers]


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


@dataclass(frozen=True)
class EchoGuardSettings:
    threshold: float = ECHO_THRESHOLD
    min_delay_ms: float = MIN_DELAY_MS
    max_delay_ms: float = MAX_DELAY_MS
    window_ms: float = CALLER_WINDOW_MS
    frame_threshold: float = 0.9  # the last 20 ms frame alone, when the window matched nothing
    # Before the line's delay settles, a match counts only at the previous voiced frame's delay
    # (± this): an echo's delay holds from frame to frame, a chance match on the caller's own
    # speech jumps (its onset especially, a few ms of sound in a quiet window). None: any delay.
    consistent_ms: float | None = 2.0
    # Previous judged frames that must have matched at that delay: 2, since with 1 the caller's own
    # onset over the bot, matching its voice twice in a row by chance, was withheld as echo in 4 of
    # 120 interruptions (offline; 7 of 30 through the stack), 1 with 2; no echo case let through.
    consistent_frames: int = 2
    # Experimental, off: a frame the echo matches still counts as the caller when its level is this
    # many times the line's echo level (learned from confident matches once the delay settled).
    double_talk_ratio: float | None = None


class EchoGuard:
    """What the bot sent, and whether caller audio is its echo; learns the line's delay as it goes.
    Both streams are contiguous audio: they are placed by steady frame times (`FrameClock`)."""

    def __init__(self, settings: EchoGuardSettings, frame_ms: float, extra_frames: int = 0) -> None:
        self.settings = settings
        self.frame_ms = frame_ms
        # What the bot sent as far back as the longest delay's window reaches (a frame may be
        # judged `extra_frames` after it arrived).
        reach_ms = settings.max_delay_ms + settings.window_ms + extra_frames * frame_ms
        self._sent: deque[SentFrame] = deque(maxlen=int(reach_ms // frame_ms) + 3)
        self._clock = FrameClock(frame_ms)
        self._delays: deque[float] = deque(maxlen=10)  # of the recent confident matches
        self.delay_ms: float | None = None  # the line's, once settled
        # The delays of the previous judged frames' matches (None: no match).
        self._previous: deque[float | None] = deque(
            [None] * settings.consistent_frames, settings.consistent_frames
        )
        self._gains: deque[float] = deque(maxlen=25)  # caller / bot level of confident matches

    def bot_sent(self, frame: bytes, at_ms: float, rate: int) -> None:
        self._sent.append(SentFrame(self._clock.at(at_ms), pcm=frame, rate=rate))

    def _recently_sent(self, now_ms: float) -> bool:
        return (
            bool(self._sent) and now_ms - self._sent[-1].at_ms <= self.settings.max_delay_ms + self.frame_ms
        )

    def is_echo(self, heard: np.ndarray, now_ms: float, frame_samples: int) -> bool:
        """`heard`: the last `window_ms` of caller audio (int16), its last sample at `now_ms`."""
        if not self._recently_sent(now_ms):
            return False
        settings = self.settings
        match = NO_MATCH
        if self.delay_ms is not None:
            match = self._match(heard, now_ms, self.delay_ms)
        if match.correlation < settings.threshold:
            # Unsettled, or the line's delay moved (a gateway's jitter buffer adapts): search it all.
            match, frame = echo_matches(
                self._sent, heard, now_ms, settings.min_delay_ms, settings.max_delay_ms, frame_samples
            )
            # A window across a jump of the line's delay matches no single delay: the last frame
            # alone may, but one frame of unrelated speech matches by chance at 0.6-0.7, so it
            # must match much better.
            if match.correlation < settings.threshold and frame.correlation >= settings.frame_threshold:
                return True
        if match.correlation >= SETTLE_THRESHOLD:
            self._delays.append(match.delay_ms)
            self.delay_ms = settled_delay(self._delays) or self.delay_ms
            if self.delay_ms is not None:
                self._gains.append(match.level_ratio)
        matched = match.correlation >= settings.threshold
        previous = list(self._previous)
        self._previous.append(match.delay_ms if matched else None)
        if not matched:
            return False
        if settings.consistent_ms is not None and self.delay_ms is None:
            tolerance = settings.consistent_ms
            if not all(p is not None and abs(match.delay_ms - p) <= tolerance for p in previous):
                return False
        ratio = settings.double_talk_ratio
        if ratio is not None and len(self._gains) >= 5:
            # Louder than the line's echo of that bot audio can be: the caller is talking over it.
            return match.level_ratio < ratio * float(np.median(self._gains))
        return True

    def _match(self, heard: np.ndarray, now_ms: float, around_delay_ms: float) -> EchoMatch:
        settings = self.settings
        return echo_match(
            self._sent, heard, now_ms, settings.min_delay_ms, settings.max_delay_ms, around_delay_ms
        )
