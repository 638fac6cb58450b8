"""Text helpers shared by every provider: sentence cutting (so TTS can start on the first sentence
while an LLM is still writing the rest) and the normalization used by grammars and intent matching."""

import re
from collections.abc import AsyncIterable, AsyncIterator

# A sentence ends at . ! ? or … (possibly repeated, possibly followed by closing quotes/brackets)
# followed by whitespace. A newline ends a sentence too.
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)|(\n+)")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "e.g", "i.e", "approx", "dept"}
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_LONG_SENTENCE_CHARS = 240


def _is_abbreviation(text: str, dot_at: int) -> bool:
    """True for "Dr." in "Dr. Smith" or "J." in "J. Smith": a known short word or an initial."""
    start = dot_at
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:dot_at].strip("(\"'")
    if word.lower() in _ABBREVIATIONS:
        return True
    return len(word) == 1 and word.isalpha() and word.isupper() and word != "I"


def _cut(buffer: str, final: bool) -> tuple[list[str], str]:
    """Whole sentences found in `buffer`, and the unfinished rest."""
    found: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(buffer):
        if match.group(1) is not None:
            punct_at = match.start(1)
            if match.group(1) == "." and _is_abbreviation(buffer, punct_at):
                continue
            end = match.end(1)
        else:
            end = match.start(3)
        sentence = buffer[start:end].strip()
        if sentence:
            found.append(sentence)
        start = match.end()
    rest = buffer[start:]
    # A very long run without punctuation (lists, bad LLM output): cut at the last comma or space
    # so speech does not wait for the whole paragraph.
    while len(rest) > _LONG_SENTENCE_CHARS:
        cut_at = max(rest.rfind(", ", 0, _LONG_SENTENCE_CHARS), rest.rfind(" ", 0, _LONG_SENTENCE_CHARS))
        if cut_at <= 0:
            cut_at = _LONG_SENTENCE_CHARS
        head, rest = rest[: cut_at + 1].strip(), rest[cut_at + 1 :]
        if head:
            found.append(head)
    if final:
        tail = rest.strip()
        if tail:
            found.append(tail)
        rest = ""
    return found, rest


def split_sentences(text: str) -> list[str]:
    """ "Hello Anna. How are you?" → ["Hello Anna.", "How are you?"]"""
    return _cut(text, final=True)[0]


async def sentences(chunks: AsyncIterable[str]) -> AsyncIterator[str]:
    """Cut a stream of text chunks (LLM tokens, or whole sentences) into sentences, each yielded as
    soon as its end is seen; whatever is left when the stream ends is the last sentence."""
    buffer = ""
    async for chunk in chunks:
        if not chunk:
            continue
        buffer += chunk
        found, buffer = _cut(buffer, final=False)
        for sentence in found:
            yield sentence
    for sentence in _cut(buffer, final=True)[0]:
        yield sentence


def normalize(text: str) -> str:
    """Lowercase words only: "Yes, please!" → "yes please"; keeps inner apostrophes ("don't")."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    return " ".join(_WORD.findall(text))


def words(text: str) -> list[str]:
    return normalize(text).split()
