"""Resume after a false interruption: the bot stopped on a barge-in, and what the caller then said
was a backchannel ("mm-hmm", "okay") or no words at all (a cough the detector let through, a
breath). Then the interrupted utterance goes on from where it was cut instead of making a turn.
The rule is docs/orchestrator.md's "Resume after a false stop"."""

import re
from dataclasses import dataclass

from call_api.orchestrator.listening.listener import Heard
from call_api.settings import OrchestratorSettings

_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


@dataclass(frozen=True)
class Cut:
    """A bot utterance a barge-in stopped: `heard` the part the caller heard (with what earlier
    resumptions of it played), `rest` what they did not, `at` the stop (monotonic seconds)."""

    heard: str
    rest: str
    at: float


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def backchannel_words(settings: OrchestratorSettings) -> tuple[str, ...]:
    return tuple(word.strip() for word in settings.resume_backchannels.lower().split(",") if word.strip())


def backchannel_phrases(settings: OrchestratorSettings) -> tuple[str, ...]:
    """For a grammar STT: each backchannel as words ("mm-hmm" → "mm hmm", which a dictionary has)."""
    words = backchannel_words(settings)
    return tuple(dict.fromkeys((*words, *(word.replace("-", " ") for word in words))))


def is_backchannel(text: str, settings: OrchestratorSettings) -> bool:
    """A few words, each of them a backchannel word."""
    words = words_of(text)
    allowed = set(backchannel_words(settings))
    return 0 < len(words) <= settings.resume_max_words and all(word in allowed for word in words)


def resumes(heard: Heard, cut: Cut, now: float, settings: OrchestratorSettings) -> bool:
    """Whether `heard`, the caller's first utterance after `cut`, was a false interruption."""
    if not settings.resume_after_false_stop or not cut.rest.strip():
        return False
    if (now - cut.at) * 1000 > settings.resume_window_ms:
        return False
    if heard.speech_ms is not None and heard.speech_ms > settings.resume_max_speech_ms:
        return False
    return not words_of(heard.text) or is_backchannel(heard.text, settings)


def joined(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part.strip())
