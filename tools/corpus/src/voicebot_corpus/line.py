"""What a phone line does to the bot's audio on its way back into the caller leg, and its own hiss."""

import numpy as np

from voicebot_corpus.filters import band_pass
from voicebot_corpus.levels import gain, samples_of_ms
from voicebot_corpus.noise import pink


def echo_of(bot: np.ndarray, delay_ms: float, attenuation_db: float) -> np.ndarray:
    """The bot's audio as the caller leg hears it back: band-limited to 300–3400 Hz, `attenuation_db`
    quieter, `delay_ms` late (same length as `bot`)."""
    delayed = np.concatenate([np.zeros(samples_of_ms(delay_ms)), band_pass(bot, 300, 3400)])[: len(bot)]
    return gain(delayed, -abs(attenuation_db))


def line_noise(rng: np.random.Generator, length: int, level_dbfs: float) -> np.ndarray:
    """A steady pink hiss in the phone band: a real line is never digital silence."""
    hiss = band_pass(pink(rng, length * 1000 / 16000), 100, 3400)[:length]
    hiss = np.pad(hiss, (0, length - len(hiss)))
    return hiss * 10 ** (level_dbfs / 20) / max(float(np.sqrt(np.mean(hiss**2))), 1e-12)
