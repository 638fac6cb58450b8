"""Spoken material from espeak-ng: the bot's utterances, the caller's backchannels and interruptions,
background talk. Trimmed to the audible part, so a clip's first sample is its speech onset."""

import functools

import numpy as np
from voicebot_callsim.audio import speech_pcm

from voicebot_corpus.levels import FRAME_SAMPLES, RATE, at_level, from_pcm

BOT_VOICE = "en-us+f3"
CALLER_VOICE = "en-us+m3"
BACKGROUND_VOICE = "en-gb+m1"


def trim(audio: np.ndarray, gate_db: float = 40.0) -> np.ndarray:
    """Drop leading and trailing 20 ms frames more than `gate_db` below the loudest one."""
    frames = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    levels = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.flatnonzero(levels >= levels.max() * 10 ** (-gate_db / 20))
    first_frame = frames[loud[0]]
    # Start at the first audible sample inside the first audible frame, not at the frame's edge.
    start = loud[0] * FRAME_SAMPLES + int(np.argmax(np.abs(first_frame) >= np.abs(first_frame).max() * 0.1))
    return audio[start : (loud[-1] + 1) * FRAME_SAMPLES]


@functools.lru_cache(maxsize=64)
def _spoken(text: str, voice: str) -> bytes:
    return speech_pcm(text, RATE, voice)


def spoken(text: str, voice: str, level_dbfs: float) -> np.ndarray:
    """`text` by espeak-ng's `voice`, trimmed, at an active level of `level_dbfs`."""
    return at_level(trim(from_pcm(_spoken(text, voice))), level_dbfs)
