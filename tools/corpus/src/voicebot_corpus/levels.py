"""Audio as float arrays in [-1, 1) at 16 kHz; levels in dBFS (RMS: 0 dBFS = RMS 1.0, a full-scale
square wave)."""

import numpy as np

RATE = 16000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
_INT16_FULL_SCALE = 32768.0


def samples_of_ms(ms: float) -> int:
    return round(ms * RATE / 1000)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def dbfs(audio: np.ndarray) -> float:
    level = rms(audio)
    return 20 * np.log10(level) if level > 0 else -np.inf


def active_dbfs(audio: np.ndarray, gate_db: float = 30.0) -> float:
    """Level of the loud part only (20 ms frames within `gate_db` of the loudest): speech with pauses
    and a burst with a decay are set by what is heard, not diluted by their silences."""
    frames = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    levels = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    loud = frames[levels >= levels.max() * 10 ** (-gate_db / 20)]
    return dbfs(loud.reshape(-1))


def at_level(audio: np.ndarray, level_dbfs: float) -> np.ndarray:
    """`audio` scaled so that its active level is `level_dbfs`."""
    current = active_dbfs(audio)
    if not np.isfinite(current):
        return audio.copy()
    return audio * 10 ** ((level_dbfs - current) / 20)


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    return audio * 10 ** (db / 20)


def to_pcm(audio: np.ndarray) -> np.ndarray:
    """float → int16 samples, clipped."""
    return np.clip(np.round(audio * _INT16_FULL_SCALE), -32768, 32767).astype(np.int16)


def from_pcm(pcm: bytes | np.ndarray) -> np.ndarray:
    samples = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes) else pcm
    return samples.astype(np.float64) / _INT16_FULL_SCALE


def frames_of(pcm: np.ndarray) -> list[bytes]:
    """int16 samples → whole 20 ms frames as the media-controller gets them (s16le)."""
    count = len(pcm) // FRAME_SAMPLES
    return [pcm[n * FRAME_SAMPLES : (n + 1) * FRAME_SAMPLES].tobytes() for n in range(count)]
