"""Resampling and WAV helpers."""

import numpy as np
import pytest
from call_api.providers.audio import (
    PcmResampler,
    WavHeaderError,
    parse_wav_header,
    read_wav,
    resample_pcm,
    wav_bytes,
)


def tone(freq: float, rate: int, seconds: float = 1.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 12000).astype("<i2").tobytes()


def dominant_frequency(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_resampling_keeps_duration_and_pitch() -> None:
    out = resample_pcm(tone(440, 22050), 22050, 16000)
    assert abs(len(out) / 2 - 16000) <= 32
    assert abs(dominant_frequency(out, 16000) - 440) < 3


def test_streaming_resampler_matches_one_shot_and_takes_odd_chunks() -> None:
    pcm = tone(300, 24000, 0.5)
    resampler = PcmResampler(24000, 16000)
    streamed = b"".join(resampler.push(pcm[i : i + 333]) for i in range(0, len(pcm), 333)) + resampler.flush()
    assert abs(len(streamed) - len(resample_pcm(pcm, 24000, 16000))) <= 4
    assert len(streamed) % 2 == 0


def test_wav_round_trip_and_streamed_header() -> None:
    pcm = tone(200, 8000, 0.1)
    data = wav_bytes(pcm, 8000)
    assert read_wav(data) == (pcm, 8000)
    assert parse_wav_header(data[:20]) is None  # not enough yet
    offset, rate = parse_wav_header(data)
    assert rate == 8000 and data[offset:] == pcm
    with pytest.raises(WavHeaderError):
        parse_wav_header(b"ID3" + b"\0" * 50)
