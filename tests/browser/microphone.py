"""The fake microphone's WAV: the caller's prompt ("yes please") once per loop period, silence
around it. Chromium loops the file from the moment the page opens the microphone, so the page's
`micStartedAt` and PERIOD tell where in the file the microphone is; the tests unmute the page
(`voicebot.mute(false)`) for exactly one utterance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from voicebot_callsim.audio import speech_pcm, write_wav

RATE = 48000
LEAD_SECONDS = 0.4  # silence before the prompt in each period
TAIL_SECONDS = 1.2  # silence after it: longer than the VAD hangover, so each utterance ends
PROMPT = "yes please"


@dataclass(frozen=True)
class Microphone:
    wav: Path
    period: float  # seconds of one loop
    speech_start: float  # where in the period the prompt's voice starts and ends
    speech_end: float


def voiced_span(pcm: bytes, rate: int, threshold: int = 500) -> tuple[float, float]:
    samples = np.abs(np.frombuffer(pcm, dtype=np.int16))
    loud = np.flatnonzero(samples > threshold)
    return float(loud[0]) / rate, float(loud[-1]) / rate


def make_microphone(directory: Path) -> Microphone:
    prompt = speech_pcm(PROMPT, RATE)
    start, end = voiced_span(prompt, RATE)
    lead = bytes(2 * int(LEAD_SECONDS * RATE))
    tail = bytes(2 * int(TAIL_SECONDS * RATE))
    pcm = lead + prompt + tail
    path = Path(directory) / "microphone.wav"
    write_wav(path, pcm, RATE)
    return Microphone(path, len(pcm) / 2 / RATE, LEAD_SECONDS + start, LEAD_SECONDS + end)
