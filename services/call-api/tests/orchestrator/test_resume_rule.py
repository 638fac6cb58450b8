"""The resume rule alone (resume.py): which utterance after a stop is a false interruption."""

import pytest
from call_api.orchestrator.listening.listener import Heard
from call_api.orchestrator.resume import Cut, heard_a_question, resumes
from call_api.settings import OrchestratorSettings

SETTINGS = OrchestratorSettings()
BEFORE_THE_QUESTION = Cut(
    "Hello Ann, this", "is the city clinic. Would you like to book an appointment?", 0.0
)
IN_THE_QUESTION = Cut("Hello Ann, this is the city clinic. Would you", "like to book an appointment?", 0.0)
AFTER_A_QUESTION = Cut("Is Monday good?", "We also have Friday.", 0.0)
AT_THE_QUESTION = Cut("Hello Ann, this is the city clinic.", "Would you like to book an appointment?", 0.0)


def said(text: str, speech_ms: float = 400.0) -> Heard:
    return Heard(text, speech_end=0.0, stt_seconds=0.0, vad_speech_end_ms=None, speech_ms=speech_ms)


def test_where_the_question_is() -> None:
    assert not heard_a_question(BEFORE_THE_QUESTION)
    assert not heard_a_question(AT_THE_QUESTION)  # its first word had not played
    assert heard_a_question(IN_THE_QUESTION)
    assert heard_a_question(AFTER_A_QUESTION)


@pytest.mark.parametrize("text", ["mm-hmm", "Uh huh.", "Okay!", "yeah", "Yes.", "yes yes", "", "right"])
def test_before_a_question_a_backchannel_or_an_acknowledgement_resumes(text: str) -> None:
    assert resumes(said(text), BEFORE_THE_QUESTION, 1.0, SETTINGS)
    assert resumes(said(text), AT_THE_QUESTION, 1.0, SETTINGS)


@pytest.mark.parametrize("text", ["yes", "yeah", "okay", "Yep."])
def test_once_a_question_was_heard_an_acknowledgement_answers_it(text: str) -> None:
    assert not resumes(said(text), IN_THE_QUESTION, 1.0, SETTINGS)
    assert not resumes(said(text), AFTER_A_QUESTION, 1.0, SETTINGS)


@pytest.mark.parametrize("text", ["mm-hmm", "hmm", "uh-huh", ""])
def test_a_backchannel_resumes_even_in_a_question(text: str) -> None:
    assert resumes(said(text), IN_THE_QUESTION, 1.0, SETTINGS)


@pytest.mark.parametrize("text", ["yes please", "no", "wait", "yes yes yes", "mm-hmm no"])
def test_real_words_are_a_turn(text: str) -> None:
    assert not resumes(said(text), BEFORE_THE_QUESTION, 1.0, SETTINGS)


def test_too_long_or_too_late_is_a_turn() -> None:
    assert not resumes(said("yeah", speech_ms=2000.0), BEFORE_THE_QUESTION, 1.0, SETTINGS)
    assert not resumes(said("yeah"), BEFORE_THE_QUESTION, 7.0, SETTINGS)  # window 6 s
    assert not resumes(said("yeah"), Cut("Hello Ann.", "", 0.0), 1.0, SETTINGS)  # nothing left to say
