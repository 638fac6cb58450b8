"""Speech for the benchmarks (espeak-ng), encoded once, and where its audible part is."""

from __future__ import annotations

import functools

import webrtcvad
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.rtp import opus_packets

RATE = 16000
FRAME_SAMPLES = RATE // 50  # 20 ms


@functools.lru_cache(maxsize=32)
def speech(text: str) -> bytes:
    """PCM s16le mono 16 kHz."""
    return speech_pcm(text, RATE)


@functools.lru_cache(maxsize=32)
def packets(text: str) -> tuple[bytes, ...]:
    """20 ms Opus packets of the speech."""
    return tuple(opus_packets(speech(text), RATE))


def voiced_frames(pcm: bytes, aggressiveness: int = 2) -> tuple[int, int]:
    """Indexes of the first and the last 20 ms frame webrtcvad calls speech (the controller's VAD,
    same aggressiveness): where the speech begins and ends, as a VAD sees the source audio."""
    vad = webrtcvad.Vad(aggressiveness)
    step = FRAME_SAMPLES * 2
    voiced = [n for n in range(len(pcm) // step) if vad.is_speech(pcm[n * step : (n + 1) * step], RATE)]
    if not voiced:
        raise ValueError("no voiced frame")
    return voiced[0], voiced[-1]
