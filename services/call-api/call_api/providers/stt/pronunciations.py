"""The pronunciation dictionary, read once per process and shared by every decoder.

A pocketsphinx decoder built with the bundled 126k-word dictionary holds its own copy (≈ 22 MB of
its ≈ 27 MB). A grammar decoder only ever needs the words of its grammar, so decoders start from an
empty dictionary and are taught the grammar's words from this shared table before each utterance."""

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

MAX_TAUGHT_WORDS = 5000  # a decoder taught more is not pooled again (its dictionary only grows)


class TeachableDecoder(Protocol):
    def lookup_word(self, word: str) -> str | None: ...

    def add_word(self, word: str, phones: str, update: bool = True) -> int: ...


@functools.lru_cache(maxsize=4)
def load_pronunciations(path: Path) -> Mapping[str, tuple[str, ...]]:
    """Blocking: word → its pronunciations ("F R AY D IY", ...), the first one first. The file is
    CMUdict's format: `word phones`, alternates spelled `word(2) phones`."""
    table: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            word, _, phones = line.strip().partition(" ")
            if word and phones:
                table.setdefault(word.split("(", 1)[0], []).append(phones.strip())
    return {word: tuple(prons) for word, prons in table.items()}


def teach(decoder: TeachableDecoder, words: Iterable[str], table: Mapping[str, tuple[str, ...]]) -> int:
    """Add the words the decoder does not know yet, with every pronunciation; returns how many."""
    added = 0
    for word in words:
        if decoder.lookup_word(word) is not None or word not in table:
            continue
        for index, phones in enumerate(table[word]):
            decoder.add_word(word if index == 0 else f"{word}({index + 1})", phones, False)
        added += 1
    return added
