"""Non-speech disturbances: noise bursts, clicks, knocks, a cough-like burst, keyboard typing.

Every generator takes a `numpy.random.Generator` (so a corpus is fixed by its seed) and returns float
audio at 16 kHz whose active level is the `level_dbfs` asked for."""

import numpy as np

from voicebot_corpus.filters import band_pass
from voicebot_corpus.levels import RATE, at_level, samples_of_ms


def fade(audio: np.ndarray, ms: float = 5.0) -> np.ndarray:
    """Raised-cosine attack and release, so a burst has no click of its own at its edges."""
    n = min(samples_of_ms(ms), len(audio) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
    out = audio.copy()
    out[:n] *= ramp
    out[len(out) - n :] *= ramp[::-1]
    return out


def white(rng: np.random.Generator, ms: float) -> np.ndarray:
    return rng.standard_normal(samples_of_ms(ms))


def pink(rng: np.random.Generator, ms: float) -> np.ndarray:
    """1/f power: white noise shaped in the frequency domain."""
    count = samples_of_ms(ms)
    size = 1 << max(count - 1, 1).bit_length()  # a power of two: an FFT of a prime length is slow
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, size)[:count]


def noise_burst(rng: np.random.Generator, colour: str, ms: float, level_dbfs: float) -> np.ndarray:
    source = white(rng, ms) if colour == "white" else pink(rng, ms)
    return at_level(fade(source), level_dbfs)


def _place(length: int, pieces: list[tuple[int, np.ndarray]]) -> np.ndarray:
    out = np.zeros(length)
    for start, piece in pieces:
        end = min(length, start + len(piece))
        out[start:end] += piece[: end - start]
    return out


def click(rng: np.random.Generator) -> np.ndarray:
    """A 1–3 ms broadband transient with a fast decay (a tap on the handset, a relay)."""
    ms = rng.uniform(1.0, 3.0)
    count = samples_of_ms(ms)
    return rng.standard_normal(count) * np.exp(-np.arange(count) / (count / 4))


def click_train(rng: np.random.Generator, ms: float, rate_hz: float, level_dbfs: float) -> np.ndarray:
    length = samples_of_ms(ms)
    period = samples_of_ms(1000 / rate_hz)
    pieces = [(start, click(rng)) for start in range(0, length - period // 2, period)]
    return at_level(_place(length, pieces), level_dbfs)


def knock(rng: np.random.Generator, count: int, level_dbfs: float) -> np.ndarray:
    """`count` knocks on a door or a desk ~150–250 ms apart: a damped 120–300 Hz resonance each."""
    pieces: list[tuple[int, np.ndarray]] = []
    start = 0
    for _ in range(count):
        t = np.arange(samples_of_ms(80)) / RATE
        body = np.sin(2 * np.pi * rng.uniform(120, 300) * t) * np.exp(-t / 0.015)
        pieces.append((start, body + 0.3 * np.concatenate([click(rng), np.zeros(len(t))])[: len(t)]))
        start += samples_of_ms(rng.uniform(150, 250))
    return at_level(_place(start + samples_of_ms(80), pieces), level_dbfs)


def cough(rng: np.random.Generator, ms: float, level_dbfs: float) -> np.ndarray:
    """A cough-like burst: an explosive broadband onset, then turbulent noise with a weak glottal buzz,
    both band-limited like a voice and decaying over `ms`."""
    count = samples_of_ms(ms)
    t = np.arange(count) / RATE
    turbulence = band_pass(rng.standard_normal(count), 300, 4000)
    buzz = np.sign(np.sin(2 * np.pi * rng.uniform(110, 220) * t)) * 0.25
    envelope = np.exp(-t / (ms / 1000 / 3)) * (1 + 2 * np.exp(-t / 0.02))
    return at_level(fade((turbulence + buzz * np.abs(turbulence)) * envelope, 2.0), level_dbfs)


def keyboard(rng: np.random.Generator, ms: float, level_dbfs: float) -> np.ndarray:
    """Typing: key strikes 80–250 ms apart, each a 4–10 ms band-passed click of its own loudness."""
    length = samples_of_ms(ms)
    pieces: list[tuple[int, np.ndarray]] = []
    start = samples_of_ms(rng.uniform(0, 60))
    while start < length:
        count = samples_of_ms(rng.uniform(4, 10))
        strike = band_pass(rng.standard_normal(count + 64), 1500, 6000)[32 : 32 + count]
        strike *= np.exp(-np.arange(count) / (count / 3)) * 10 ** (rng.uniform(-6, 0) / 20)
        pieces.append((start, strike))
        start += samples_of_ms(rng.uniform(80, 250))
    return at_level(_place(length, pieces), level_dbfs)
