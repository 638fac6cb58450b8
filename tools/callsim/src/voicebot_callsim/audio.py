"""Audio helpers: files → PCM, espeak-ng speech, energy envelopes and their correlation."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np


def read_audio(path: str | Path | BinaryIO, rate: int = 16000) -> bytes:
    """Any audio file → PCM s16le mono at `rate`."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    out = bytearray()
    with av.open(path if hasattr(path, "read") else str(path), mode="r") as container:
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                out += converted.to_ndarray().astype(np.int16).tobytes()
    for converted in resampler.resample(None):
        out += converted.to_ndarray().astype(np.int16).tobytes()
    return bytes(out)


def speech_wav(tmp_path: Path, text: str, name: str = "speech.wav") -> Path:
    path = Path(tmp_path) / name
    subprocess.run(["espeak-ng", "-v", "en-us+f3", "-w", str(path), text], check=True, capture_output=True)
    return path


def envelope(pcm: bytes, rate: int = 16000, window_ms: int = 20) -> np.ndarray:
    """RMS energy per window."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    size = rate * window_ms // 1000
    count = len(samples) // size
    return np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1))


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Highest Pearson correlation of a and b shifted by up to ±max_lag windows, and that lag."""
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(len(x), len(y))
        if n < 10 or np.std(x[:n]) == 0 or np.std(y[:n]) == 0:
            continue
        r = float(np.corrcoef(x[:n], y[:n])[0, 1])
        if r > best[0]:
            best = (r, lag)
    return best


def write_wav(path: str | Path, pcm: bytes, rate: int) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def speech_pcm(text: str, rate: int = 16000, voice: str = "en-us+f3") -> bytes:
    """espeak-ng speech as PCM s16le mono at `rate`."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    import io

    return read_audio(io.BytesIO(wav), rate)
