"""The corpus as placed over the bot's speech: fixed by its seed, events inside the bot's speech,
the echo the delay and level asked for."""

import numpy as np
import pytest
from voicebot_corpus.cases import (
    BACKGROUND_BELOW_CALLER_DB,
    CALLER_LEVEL_DBFS,
    MUST_NOT_STOP,
    SHOULD_STOP,
    Case,
    build_corpus,
    variants,
)
from voicebot_corpus.levels import RATE, active_dbfs, from_pcm, samples_of_ms


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    return build_corpus(seed=3, repeats=1)


def test_every_category_of_the_issue_is_in_the_corpus(corpus: list[Case]) -> None:
    assert {c.category for c in corpus} == set(MUST_NOT_STOP) | set(SHOULD_STOP)
    assert len(corpus) == len(variants())
    assert all(c.should_stop == (c.category in SHOULD_STOP) for c in corpus)


def test_the_same_seed_builds_the_same_corpus(corpus: list[Case]) -> None:
    again = build_corpus(seed=3, repeats=1, categories=("noise", "cough", "interruption"))
    mine = {c.name: c for c in corpus}
    assert again and all(np.array_equal(c.caller, mine[c.name].caller) for c in again)
    assert all(c.event_ms == mine[c.name].event_ms for c in again)
    other = build_corpus(seed=4, repeats=1, categories=("noise",))
    assert [c.event_ms for c in other] != [c.event_ms for c in corpus if c.category == "noise"]


def test_repeats_land_at_different_moments_while_the_bot_speaks() -> None:
    cases = build_corpus(seed=3, repeats=3, categories=("cough",))
    for name in {c.name.split("#")[0] for c in cases}:
        moments = [c.event_ms for c in cases if c.name.startswith(name + "#")]
        assert len(set(moments)) == 3
    for case in cases:
        assert 400 <= case.event_ms < case.event_end_ms <= len(case.bot) * 1000 / RATE
        assert len(case.caller) == len(case.bot)


def test_a_disturbance_is_where_the_case_says(corpus: list[Case]) -> None:
    case = next(c for c in corpus if c.name == "noise/white-300ms-15dBFS#0")
    start, end = samples_of_ms(case.event_ms), samples_of_ms(case.event_end_ms)
    inside, before = from_pcm(case.caller[start:end]), from_pcm(case.caller[: start - samples_of_ms(20)])
    assert active_dbfs(inside) == pytest.approx(-15, abs=0.5)
    assert active_dbfs(before) < -60  # the line's hiss only


@pytest.mark.parametrize(("delay", "attenuation"), [(40, 10), (120, 15), (250, 20)])
def test_the_echo_is_the_bot_late_and_quieter(corpus: list[Case], delay: int, attenuation: int) -> None:
    case = next(c for c in corpus if c.name == f"echo/{delay}ms-{attenuation}dB#0")
    bot, caller = from_pcm(case.bot), from_pcm(case.caller)
    lags = range(0, samples_of_ms(300), 8)
    best = max(lags, key=lambda lag: float(bot[: len(bot) - lag] @ caller[lag:]))
    assert abs(best - samples_of_ms(delay)) <= 8
    level_drop = active_dbfs(bot) - active_dbfs(caller)
    assert level_drop == pytest.approx(attenuation, abs=1.5)  # plus the line's band limit


def test_background_talk_is_25_db_under_the_caller(corpus: list[Case]) -> None:
    for case in (c for c in corpus if c.category == "background_speech"):
        talk = from_pcm(case.caller[samples_of_ms(case.event_ms) : samples_of_ms(case.event_end_ms)])
        assert active_dbfs(talk) == pytest.approx(CALLER_LEVEL_DBFS - BACKGROUND_BELOW_CALLER_DB, abs=1.0)


def test_caller_speech_starts_at_the_event(corpus: list[Case]) -> None:
    for case in (c for c in corpus if c.category in ("backchannel", "interruption")):
        start = samples_of_ms(case.event_ms)
        assert active_dbfs(from_pcm(case.caller[start - samples_of_ms(40) : start])) < -60
        assert active_dbfs(from_pcm(case.caller[start : start + samples_of_ms(60)])) > -45
