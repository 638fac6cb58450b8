"""The chosen detector, fed frame by frame like the media-controller's caller leg: speech stops the
bot within the budget; noise, a cough and the bot's own echo do not; one utterance stops it once."""

from typing import Any

import numpy as np
import pytest
import webrtcvad
from media_controller.barge_in import BargeInDetector, BargeInSettings, Onset
from media_controller.echo_guard import EchoGuard
from media_controller.silero_vad import SileroStream
from media_controller.vad import frame_rms
from voicebot_callsim.audio import speech_pcm
from voicebot_corpus import noise
from voicebot_corpus.cases import CALLER_LEVEL_DBFS, INTERRUPTIONS, bot_speech, build_corpus
from voicebot_corpus.evaluate import run_case
from voicebot_corpus.levels import FRAME_MS, frames_of, samples_of_ms, to_pcm
from voicebot_corpus.line import echo_of
from voicebot_corpus.speech import BOT_VOICE, CALLER_VOICE, spoken

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


WEBRTCVAD_ALONE = BargeInSettings(silero_threshold=None, echo_guard=False)


@pytest.mark.parametrize(
    ("text", "voice"),
    [("say that again", BOT_VOICE), ("sorry what was that", BOT_VOICE), ("say that again", CALLER_VOICE)],
)
def test_speech_is_confirmed_in_the_frame_that_completes_the_webrtcvad_run(text: str, voice: str) -> None:
    """A fricative onset: Silero hears speech only once the vowel starts. Scored on the latest
    32 ms at every voiced frame, it confirms in the frame webrtcvad alone would stop the bot in,
    not a 32 ms chunk later."""
    bot = bot_speech(0)
    caller = with_event(len(bot), spoken(text, voice, CALLER_LEVEL_DBFS))
    alone = feed(BargeInDetector(WEBRTCVAD_ALONE), caller, bot)
    confirmed = feed(BargeInDetector(), caller, bot)
    assert alone and confirmed
    assert confirmed[0].detected_ms == alone[0].detected_ms


@pytest.mark.parametrize("lead_ms", [500, 600])
def test_a_caller_in_the_bots_own_voice_is_not_its_echo_before_the_lines_delay_is_known(lead_ms: int) -> None:
    """The caller's first frames over the bot (a synthetic voice, as the benchmarks' caller: the
    bot's own) match its output by chance, each at another delay; an echo's delay holds. (Here the
    guard took "yes" for echo at 124, 120, 116 ms and the bot stopped 80 ms late.)"""
    bot = np.frombuffer(
        speech_pcm("Let me read you the full terms and conditions of your contract."), np.int16
    )
    words = np.frombuffer(speech_pcm("yes please"), np.int16)
    caller = np.concatenate([np.zeros(samples_of_ms(lead_ms)), words / 32768])
    onsets = feed(BargeInDetector(), caller, bot / 32768)
    alone = feed(BargeInDetector(WEBRTCVAD_ALONE), caller, bot / 32768)
    assert onsets and alone and onsets[0].detected_ms == alone[0].detected_ms


def test_the_deciding_frame_of_a_run_silero_already_confirmed_is_not_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "yes please": Silero hears speech from the run's first frames, so the frame that completes
    the run is an onset whatever it scores; it is not scored (the same onset, one model call less
    on the frame the stop waits for)."""
    words = np.frombuffer(speech_pcm("yes please"), np.int16)
    caller = np.concatenate([np.zeros(samples_of_ms(500)), words / 32768])
    scored: list[float] = []
    silero_push = SileroStream.push

    def counted_push(stream: SileroStream, *args: Any) -> float:
        scored.append(silero_push(stream, *args))
        return scored[-1]

    monkeypatch.setattr(SileroStream, "push", counted_push)
    [onset] = feed(BargeInDetector(), caller, None)
    settings = BargeInSettings()
    assert max(scored) >= (settings.silero_threshold or 0), "the case is real: Silero confirmed it"
    assert len(scored) == settings.onset_frames - 1
    assert onset.detected_ms - onset.at_ms == (settings.onset_frames - 1) * FRAME_MS  # the 4th frame


def test_runs_too_short_to_stop_the_bot_cost_no_echo_search_and_no_silero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Typing over the bot: key strikes one or two voiced frames long are never judged."""
    calls: list[str] = []
    is_echo, silero_push = EchoGuard.is_echo, SileroStream.push

    def counted_is_echo(guard: EchoGuard, *args: Any) -> bool:
        calls.append("echo search")
        return is_echo(guard, *args)

    def counted_push(stream: SileroStream, *args: Any) -> float:
        calls.append("silero")
        return silero_push(stream, *args)

    monkeypatch.setattr(EchoGuard, "is_echo", counted_is_echo)
    monkeypatch.setattr(SileroStream, "push", counted_push)
    bot = bot_speech(0)
    caller = with_event(len(bot), noise.keyboard(np.random.default_rng(3), 1500, -25))
    assert feed(BargeInDetector(), caller, bot) == []
    assert calls == []
    vad, settings = webrtcvad.Vad(2), BargeInSettings()
    voiced = [
        frame_rms(frame) >= settings.min_rms and vad.is_speech(frame, 16000)
        for frame in frames_of(to_pcm(caller))
    ]
    assert sum(voiced) >= 5, "the case is real: webrtcvad voices key strikes"


@pytest.mark.parametrize(
    ("seed", "name"),
    [(1, "knock/3x-12dBFS#1"), (2, "knock/2x-12dBFS#1"), (3, "knock/2x-12dBFS#1"), (3, "knock/3x-12dBFS#4")],
)
def test_knocks_silero_took_for_speech_do_not_stop_the_bot(seed: int, name: str) -> None:
    """Corpus knocks that stopped the rule as first chosen (chunks, 0.4: the first two) or scored
    on every frame without the loudness test (the last two): Silero heard speech in a knock's
    decaying tail, a frame far quieter than the knock."""
    case = next(c for c in build_corpus(seed, 5, categories=("knock",)) if c.name == name)
    assert not run_case(BargeInDetector(), case).stopped
    assert run_case(BargeInDetector(BargeInSettings(silero_threshold=None)), case).stopped  # the case is real


@pytest.mark.parametrize(("seed", "lead_samples"), [(1, 48), (4, 16), (8, 64), (19, 0)])
def test_a_knocks_tail_does_not_lend_silero_its_voice_for_the_next(seed: int, lead_samples: int) -> None:
    """Three knocks, their frames cut where a call's decoder may cut them (the caller's Opus
    decoder moved them by 16 samples once: the bench's 5th knock then stopped the bot). Silero
    hears a knock's tail as voice; the tail itself does not count (far quieter than the knock),
    but Silero's state did, carried into the next knock's run, whose loud first frame then scored
    as speech."""
    knock = noise.knock(np.random.default_rng(seed), 3, -12.0)
    caller = np.concatenate([np.zeros(8000 + lead_samples), knock, np.zeros(8000)])
    assert not feed(BargeInDetector(), caller, None)
    assert feed(BargeInDetector(BargeInSettings(silero_threshold=None)), caller, None)  # the case is real
