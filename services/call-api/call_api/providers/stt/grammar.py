"""The JSGF grammar an offline recogniser gets from the dialog's expected phrases.

Phrases are normalized ("Yes, please!" → "yes please"); words the pronunciation dictionary does not
know are dropped from their phrase (a phrase left empty is dropped); duplicates go."""

import logging
from collections.abc import Callable, Iterable

from call_api.providers.text import normalize

log = logging.getLogger(__name__)


def grammar_phrases(phrases: Iterable[str], knows_word: Callable[[str], bool]) -> list[str]:
    kept: list[str] = []
    unknown: set[str] = set()
    for phrase in phrases:
        words = []
        for word in normalize(phrase).split():
            if knows_word(word):
                words.append(word)
            else:
                unknown.add(word)
        text = " ".join(words)
        if text and text not in kept:
            kept.append(text)
    if unknown:
        log.info("words left out of the grammar (not in the dictionary)", extra={"words": sorted(unknown)})
    return kept


def jsgf(phrases: Iterable[str], name: str = "expected") -> str:
    """One public rule: any one of the phrases. Words are bare JSGF tokens (apostrophes are fine)."""
    alternatives = list(phrases)
    if not alternatives:
        raise ValueError("a grammar needs at least one phrase")
    body = "\n    | ".join(alternatives)
    return f"#JSGF V1.0;\ngrammar {name};\npublic <utterance> =\n    {body};\n"
