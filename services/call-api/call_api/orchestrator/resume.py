"""Resume after a false interruption: the bot stopped on a barge-in, and what the caller then said
was a backchannel ("mm-hmm", "okay") or no words at all (a cough the detector let through, a
breath). Then the interrupted utterance goes on from where it was cut instead of making a turn.
The rule is docs/orchestrator.md's "Resume after a false stop"."""

import re
from dataclasses import dataclass

from call_api.orchestrator.listening.listener import Heard
from call_api.orchestrator.speech.ahead import Ahead
from call_api.providers.text import split_sentences
from call_api.settings import OrchestratorSettings

_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")
_CLOSING = "\"'”’)] "


@dataclass(frozen=True)
class Cut:
    """A bot utterance a barge-in stopped: `heard` the part the caller heard (with what earlier
    resumptions of it played), `rest` what they did not, `at` the stop (monotonic seconds),
    `ahead` the rest's first sentence being synthesized in case the bot resumes."""

    heard: str
    rest: str
    at: float
    ahead: Ahead | None = None

    def drop(self) -> None:
        """Not resumed: the synthesis made ahead is not needed."""
        if self.ahead is not None:
            self.ahead.cancel()


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _listed(words: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in words.lower().split(",") if word.strip())


def backchannel_words(settings: OrchestratorSettings) -> tuple[str, ...]:
    """Every word a backchannel may be made of: the backchannels and the acknowledgements."""
    return tuple(
        dict.fromkeys((*_listed(settings.resume_backchannels), *_listed(settings.resume_acknowledgements)))
    )


def backchannel_phrases(settings: OrchestratorSettings) -> tuple[str, ...]:
    """For a grammar STT: each backchannel as words ("mm-hmm" → "mm hmm", which a dictionary has)."""
    words = backchannel_words(settings)
    return tuple(dict.fromkeys((*words, *(word.replace("-", " ") for word in words))))


def heard_a_question(cut: Cut) -> bool:
    """Whether the caller heard a question of the cut utterance: a whole one, or the start of the
    one the stop cut ("Would you like" of "Would you like to book an appointment?")."""
    if "?" in cut.heard:
        return True
    heard, rest = cut.heard.strip(), cut.rest.strip()
    if not heard or not rest or heard.rstrip(_CLOSING).endswith((".", "!", "?", "…")):
        return False
    return split_sentences(rest)[0].rstrip(_CLOSING).endswith("?")


def is_backchannel(text: str, settings: OrchestratorSettings, *, question_heard: bool = False) -> bool:
    """A few words, each of them a backchannel word (an acknowledgement only while no question was
    heard: after one, "yes" or "okay" answers it)."""
    words = words_of(text)
    allowed = set(_listed(settings.resume_backchannels))
    if not question_heard:
        allowed |= set(_listed(settings.resume_acknowledgements))
    return 0 < len(words) <= settings.resume_max_words and all(word in allowed for word in words)


def resumes(heard: Heard, cut: Cut, now: float, settings: OrchestratorSettings) -> bool:
    """Whether `heard`, the caller's first utterance after `cut`, was a false interruption."""
    if not settings.resume_after_false_stop or not cut.rest.strip():
        return False
    if (now - cut.at) * 1000 > settings.resume_window_ms:
        return False
    if heard.speech_ms is not None and heard.speech_ms > settings.resume_max_speech_ms:
        return False
    if not words_of(heard.text):
        return True
    return is_backchannel(heard.text, settings, question_heard=heard_a_question(cut))


def joined(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part.strip())
