"""The offline evaluation over the whole corpus (each variant once, seeded moments): the chosen rule
has no false stop where the goal is zero and still stops real speech within the budget; today's rule,
imported from the media-controller, shows the false stops the issue reported (the corpus is not easy)."""

import pytest
from media_controller.barge_in import BargeInDetector, BargeInSettings
from media_controller.echo_guard import EchoGuardSettings
from voicebot_corpus.cases import MUST_NOT_STOP, Case, build_corpus
from voicebot_corpus.detectors import DETECTORS
from voicebot_corpus.evaluate import Outcome, category_figures, evaluate, percentile

DELAY_BUDGET_MS = 100.0  # onset → stop p95, the goal
OVER_ECHO_BUDGET_MS = 160.0  # the caller's first syllable is under the echo's level (docs/turn-taking.md)


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    return build_corpus(seed=14, repeats=1)


@pytest.fixture(scope="module")
def chosen(corpus: list[Case]) -> list[Outcome]:
    return evaluate(DETECTORS["webrtcvad+silero+echo_guard"], corpus)


def delays(outcomes: list[Outcome], category: str) -> list[float]:
    return [o.delay_ms for o in outcomes if o.category == category and o.delay_ms is not None]


def test_the_chosen_rule_never_stops_the_bot_for_noise_clicks_coughs_typing_talk_or_echo(
    chosen: list[Outcome],
) -> None:
    figures = category_figures(chosen)
    assert {c: figures[c]["false_stops"] for c in MUST_NOT_STOP} == dict.fromkeys(MUST_NOT_STOP, 0)


def test_the_chosen_rule_stops_for_every_interruption_and_backchannel_within_the_budget(
    chosen: list[Outcome],
) -> None:
    speech = [o for o in chosen if o.should_stop]
    assert speech and all(o.stopped and not o.early for o in speech)
    for category in ("interruption", "backchannel"):
        p95 = percentile(delays(chosen, category), 95)
        assert p95 is not None and p95 <= DELAY_BUDGET_MS
    over_echo = percentile(delays(chosen, "interruption_over_echo"), 95)
    assert over_echo is not None and over_echo <= OVER_ECHO_BUDGET_MS


def test_todays_rule_is_fooled_by_noise_coughs_and_echo(corpus: list[Case]) -> None:
    figures = category_figures(evaluate(DETECTORS["today_webrtcvad"], corpus))
    for category in ("noise", "cough", "echo"):
        assert figures[category]["false_stops"] == figures[category]["cases"]
    assert figures["click"]["false_stops"] == 0  # as measured through the stack: 0 of 3


def test_the_chosen_rule_is_no_slower_than_today_by_more_than_a_silero_chunk(
    corpus: list[Case], chosen: list[Outcome]
) -> None:
    today = evaluate(DETECTORS["today_webrtcvad"], [c for c in corpus if c.category == "interruption"])
    today_p50 = percentile(delays(today, "interruption"), 50)
    chosen_p50 = percentile(delays(chosen, "interruption"), 50)
    assert today_p50 is not None and chosen_p50 is not None
    assert chosen_p50 <= today_p50 + 32


def test_the_experimental_double_talk_test_stops_sooner_over_echo_and_never_for_the_echo(
    corpus: list[Case], chosen: list[Outcome]
) -> None:
    cases = [c for c in corpus if c.category in ("echo", "interruption_over_echo")]
    double_talk = BargeInSettings(echo=EchoGuardSettings(double_talk_ratio=1.6))
    level_tested = evaluate(lambda: BargeInDetector(double_talk), cases)
    assert not any(o.stopped for o in level_tested if o.category == "echo")
    sooner, plain = delays(level_tested, "interruption_over_echo"), delays(chosen, "interruption_over_echo")
    assert len(sooner) == len(plain) == 3
    assert all(a <= b for a, b in zip(sooner, plain, strict=True)) and sum(sooner) < sum(plain)
