"""Which intent did the caller mean? Word overlap between the normalized caller text and each
example phrase, tolerant to small misspellings (difflib), with a guard against negations.

    score = 0.75 × (share of the phrase's words found in the text)
          + 0.25 × (share of the text's words that belong to the phrase)

The best phrase wins if its score reaches `threshold`; ties go to the intent listed first."""

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from call_api.providers.dialog.scenario_file import Intent
from call_api.providers.text import words

THRESHOLD = 0.65
_NEGATIONS = frozenset({"no", "not", "don't", "dont", "never", "nope", "can't", "won't", "nothing"})


@dataclass(frozen=True)
class Match:
    intent: Intent
    phrase: str
    score: float


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    return min(len(a), len(b)) >= 5 and SequenceMatcher(None, a, b).ratio() >= 0.8


def phrase_score(text_words: list[str], phrase_words: list[str]) -> float:
    if not text_words or not phrase_words:
        return 0.0
    found = [w for w in phrase_words if any(_same_word(w, t) for t in text_words)]
    used = [t for t in text_words if any(_same_word(t, w) for w in phrase_words)]
    score = 0.75 * len(found) / len(phrase_words) + 0.25 * len(used) / len(text_words)
    if bool(_NEGATIONS & set(text_words)) != bool(_NEGATIONS & set(phrase_words)):
        score *= 0.5
    return score


def best_intent(text: str, intents: Iterable[Intent], threshold: float = THRESHOLD) -> Match | None:
    text_words = words(text)
    best: Match | None = None
    for intent in intents:
        for phrase in intent.phrases:
            score = phrase_score(text_words, words(phrase))
            if score >= threshold and (best is None or score > best.score):
                best = Match(intent, phrase, score)
    return best


def contains_phrase(text: str, intents: Iterable[Intent]) -> Match | None:
    """The strict test used to chain states: every word of some phrase is in the text
    ("wednesday morning" answers both "which day?" and "morning or afternoon?")."""
    text_words = words(text)
    best: Match | None = None
    for intent in intents:
        for phrase in intent.phrases:
            phrase_words = words(phrase)
            if phrase_words and all(any(_same_word(w, t) for t in text_words) for w in phrase_words):
                score = phrase_score(text_words, phrase_words)
                if best is None or score > best.score:
                    best = Match(intent, phrase, score)
    return best
