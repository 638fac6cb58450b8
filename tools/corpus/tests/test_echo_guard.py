"""The echo guard: the bot's own audio coming back is recognised, with its delay; the caller's own
speech over it is not taken for it."""

import numpy as np
import pytest
from media_controller.echo_guard import (
    ECHO_THRESHOLD,
    NO_MATCH,
    SETTLE_THRESHOLD,
    EchoMatch,
    SentFrame,
    echo_match,
    is_echo,
    settled_delay,
)
from voicebot_corpus.cases import BOT_LEVEL_DBFS, CALLER_LEVEL_DBFS, INTERRUPTIONS, bot_speech
from voicebot_corpus.levels import FRAME_SAMPLES, samples_of_ms, to_pcm
from voicebot_corpus.line import echo_of
from voicebot_corpus.speech import CALLER_VOICE, spoken

WINDOW = 3 * FRAME_SAMPLES  # the 60 ms the detector compares


def sent_frames(bot: np.ndarray) -> list[SentFrame]:
    return [
        SentFrame(n * 20.0, bot[n * FRAME_SAMPLES : (n + 1) * FRAME_SAMPLES])
        for n in range(len(bot) // FRAME_SAMPLES)
    ]


def loud_frame_ends(audio: np.ndarray, floor: float = 300.0) -> list[int]:
    """Indexes n of the frames (ending at sample (n+1)·320) loud enough for the VAD's floor."""
    frames = audio[: len(audio) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES).astype(float)
    return [n for n in np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) >= floor) if n >= 15]


def all_matches(
    sent: list[SentFrame], caller: np.ndarray, frames: list[int], around_delay_ms: float | None = None
) -> list[EchoMatch]:
    out = []
    for n in frames:
        now = (n + 1) * 20.0
        recent = [f for f in sent if now - 300 <= f.at_ms <= now]
        heard = caller[(n + 1) * FRAME_SAMPLES - WINDOW : (n + 1) * FRAME_SAMPLES]
        out.append(echo_match(recent, heard, now, around_delay_ms=around_delay_ms))
    return out


def matches(sent: list[SentFrame], caller: np.ndarray, frames: list[int]) -> list[float]:
    return [m.correlation for m in all_matches(sent, caller, frames)]


@pytest.mark.parametrize(("delay", "attenuation"), [(40, 10), (120, 20), (250, 15)])
def test_the_bots_echo_is_recognised_with_its_delay(delay: int, attenuation: int) -> None:
    bot = to_pcm(bot_speech(0))
    caller = to_pcm(echo_of(bot_speech(0), delay, attenuation))
    sent = sent_frames(bot)
    frames = loud_frame_ends(caller, floor=100)
    assert len(frames) > 50
    now = (frames[len(frames) // 2] + 1) * 20.0
    n = frames[len(frames) // 2]
    match = echo_match(sent, caller[(n + 1) * FRAME_SAMPLES - WINDOW : (n + 1) * FRAME_SAMPLES], now)
    assert match.delay_ms == pytest.approx(delay, abs=0.2)
    assert (
        np.mean([is_echo_value >= ECHO_THRESHOLD for is_echo_value in matches(sent, caller, frames)]) > 0.97
    )


@pytest.mark.parametrize("sentence", INTERRUPTIONS)
def test_the_callers_own_speech_is_rarely_a_chance_match_and_settles_no_delay(sentence: str) -> None:
    bot_audio = bot_speech(0)
    caller_audio = np.zeros(len(bot_audio))
    speech = spoken(sentence, CALLER_VOICE, CALLER_LEVEL_DBFS)
    caller_audio[samples_of_ms(500) : samples_of_ms(500) + len(speech)] = speech
    caller, sent = to_pcm(caller_audio), sent_frames(to_pcm(bot_audio))
    frames = loud_frame_ends(caller)
    assert len(frames) > 40
    assert np.mean([v >= ECHO_THRESHOLD for v in matches(sent, caller, frames)]) < 0.1
    # Chance matches (espeak-ng's voices share their waveforms) each come at a delay of their own:
    confident = [m.delay_ms for m in all_matches(sent, caller, frames) if m.correlation >= SETTLE_THRESHOLD]
    assert settled_delay(confident) is None
    # Once the line's delay is known, a chance match must fall within its ±2 ms: rarer still.
    at_line_delay = [m.correlation for m in all_matches(sent, caller, frames, around_delay_ms=120.0)]
    assert sum(v >= ECHO_THRESHOLD for v in at_line_delay) <= 2


def test_a_steady_echo_settles_on_its_delay() -> None:
    bot = to_pcm(bot_speech(1))
    caller = to_pcm(echo_of(bot_speech(1), 180, 12))
    frames = loud_frame_ends(caller, floor=100)[:12]
    confident = [
        m.delay_ms for m in all_matches(sent_frames(bot), caller, frames) if m.correlation >= SETTLE_THRESHOLD
    ]
    assert settled_delay(confident) == pytest.approx(180, abs=0.2)


def test_an_echo_later_than_the_window_is_not_matched() -> None:
    bot = to_pcm(bot_speech(0))
    caller = to_pcm(echo_of(bot_speech(0), 400, 10))
    frames = loud_frame_ends(caller, floor=100)[10:60]
    assert np.mean([v >= ECHO_THRESHOLD for v in matches(sent_frames(bot), caller, frames)]) < 0.2


def test_nothing_sent_or_nothing_heard_is_no_match() -> None:
    heard = to_pcm(bot_speech(0)[:WINDOW])
    assert echo_match([], heard, 1000.0) == NO_MATCH
    assert (
        echo_match([SentFrame(900.0, heard[:FRAME_SAMPLES])], np.zeros(WINDOW, dtype=np.int16), 1000.0)
        == NO_MATCH
    )
    assert not is_echo(NO_MATCH)
    assert BOT_LEVEL_DBFS > CALLER_LEVEL_DBFS - 10  # the cases above compare like with like
