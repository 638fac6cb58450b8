"""The speech gate: silence is held (bounded), the first voiced frame opens it with what came just
before, and after that audio passes straight through."""

import numpy as np
from call_api.providers.stt.speech_gate import SpeechGate
from voicebot_callsim.audio import speech_pcm

RATE = 16000


def noise(seconds: float, amplitude: int = 30) -> bytes:
    """Faint background noise (a quiet line), not silence made of zeros."""
    rng = np.random.default_rng(7)
    return rng.integers(-amplitude, amplitude, int(seconds * RATE), dtype=np.int16).astype("<i2").tobytes()


def test_silence_is_held_up_to_the_preroll_and_no_more() -> None:
    gate = SpeechGate(RATE, preroll_seconds=0.5)
    for _ in range(300):  # 6 s of a quiet line in 20 ms frames
        assert gate.push(noise(0.02)) == b""
    assert not gate.opened
    assert gate.held_bytes <= 0.5 * RATE * 2 + 2 * 960  # the preroll and at most two VAD frames


def test_speech_opens_the_gate_with_the_audio_just_before_it() -> None:
    gate = SpeechGate(RATE, preroll_seconds=0.5)
    before = noise(2.0)
    speech = speech_pcm("yes please", RATE)
    passed = gate.push(before)
    for start in range(0, len(speech), 640):
        passed += gate.push(speech[start : start + 640])
    assert gate.opened
    assert passed.endswith(speech)  # nothing of the speech is lost...
    assert len(passed) - len(speech) <= 0.5 * RATE * 2 + 2 * 960  # ...and the old silence is gone
    assert gate.push(b"\x01\x00" * 10) == b"\x01\x00" * 10  # open: straight through


def test_a_word_within_the_vads_warm_up_is_kept_as_maybe_speech() -> None:
    gate = SpeechGate(RATE)
    word = speech_pcm("no", RATE)[: 6 * 960]  # shorter than the VAD's warm-up
    assert gate.push(word) == b""
    assert gate.maybe_speech
    assert gate.take_held() == word
