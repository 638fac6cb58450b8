"""The chosen detector, fed frame by frame like the media-controller's caller leg: speech stops the
bot within the budget; noise, a cough and the bot's own echo do not; one utterance stops it once."""

import numpy as np
import pytest
from media_controller.barge_in import BargeInDetector, BargeInSettings, Onset
from voicebot_corpus import noise
from voicebot_corpus.cases import CALLER_LEVEL_DBFS, INTERRUPTIONS, bot_speech
from voicebot_corpus.levels import FRAME_MS, frames_of, samples_of_ms, to_pcm
from voicebot_corpus.line import echo_of
from voicebot_corpus.speech import CALLER_VOICE, spoken

ONSET_MS = 1000.0


def feed(detector: BargeInDetector, caller: np.ndarray, bot: np.ndarray | None) -> list[Onset]:
    """Bot frame n sent at 20·n ms, caller frame n arriving at 20·(n+1) ms; every onset."""
    bot_frames = frames_of(to_pcm(bot)) if bot is not None else []
    onsets = []
    for n, frame in enumerate(frames_of(to_pcm(caller))):
        if n < len(bot_frames):
            detector.bot_sent(bot_frames[n], n * FRAME_MS)
        onset = detector.push(frame, (n + 1) * FRAME_MS)
        if onset is not None:
            onsets.append(onset)
    return onsets


def with_event(length: int, event: np.ndarray, at_ms: float = ONSET_MS) -> np.ndarray:
    audio = np.random.default_rng(0).standard_normal(length) * 10 ** (-70 / 20)
    start = samples_of_ms(at_ms)
    audio[start : start + len(event)] += event[: length - start]
    return audio


def test_an_interruption_stops_the_bot_within_100_ms() -> None:
    bot = bot_speech(0)
    caller = with_event(len(bot), spoken(INTERRUPTIONS[1], CALLER_VOICE, CALLER_LEVEL_DBFS))
    onsets = feed(BargeInDetector(), caller, bot)
    assert len(onsets) == 1  # one utterance, one stop
    assert ONSET_MS < onsets[0].detected_ms <= ONSET_MS + 100
    assert onsets[0].at_ms <= onsets[0].detected_ms - 3 * FRAME_MS


def test_an_interruption_over_the_bots_echo_still_stops_it() -> None:
    bot = bot_speech(1)
    caller = with_event(len(bot), spoken(INTERRUPTIONS[2], CALLER_VOICE, CALLER_LEVEL_DBFS)) + echo_of(
        bot, 120, 12
    )
    onsets = feed(BargeInDetector(), caller, bot)
    assert onsets and ONSET_MS < onsets[0].detected_ms <= ONSET_MS + 160


@pytest.mark.parametrize(
    "make",
    [
        lambda g: noise.noise_burst(g, "white", 500, -15),
        lambda g: noise.noise_burst(g, "pink", 300, -25),
        lambda g: noise.cough(g, 400, -12),
        lambda g: noise.knock(g, 3, -12),
    ],
    ids=["white-500ms", "pink-300ms", "cough", "knock"],
)
def test_noise_does_not_stop_the_bot_that_webrtcvad_alone_would(make) -> None:  # type: ignore[no-untyped-def]
    bot = bot_speech(0)
    caller = with_event(len(bot), make(np.random.default_rng(5)))
    assert feed(BargeInDetector(), caller, bot) == []
    assert feed(BargeInDetector(BargeInSettings(silero_threshold=None)), caller, bot)  # the case is real


def test_the_bots_echo_does_not_stop_it_unless_the_guard_is_off() -> None:
    bot = bot_speech(0)
    caller = echo_of(bot, 120, 10)
    detector = BargeInDetector()
    assert feed(detector, caller, bot) == []
    assert detector.echo_frames > 20
    assert feed(BargeInDetector(BargeInSettings(echo_guard=False)), caller, bot)


def test_without_knowing_what_the_bot_sent_its_echo_is_caller_speech() -> None:
    bot = bot_speech(0)
    assert feed(BargeInDetector(), echo_of(bot, 120, 10), bot=None)


def test_it_rearms_after_a_pause_and_stops_again() -> None:
    sentence = spoken(INTERRUPTIONS[0], CALLER_VOICE, CALLER_LEVEL_DBFS)
    pause = np.zeros(samples_of_ms(600))
    caller = with_event(
        samples_of_ms(ONSET_MS) + 2 * len(sentence) + len(pause) + 4000,
        np.concatenate([sentence, pause, sentence]),
    )
    onsets = feed(BargeInDetector(), caller, bot=None)
    assert len(onsets) == 2
    second_start = ONSET_MS + (len(sentence) + len(pause)) * 1000 / 16000
    assert second_start < onsets[1].detected_ms <= second_start + 100
