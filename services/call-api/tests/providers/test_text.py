"""Sentence cutting of token streams, and normalization."""

from call_api.providers.text import normalize, sentences, split_sentences


async def tokens(*chunks: str):
    for chunk in chunks:
        yield chunk


async def collect(stream) -> list[str]:
    return [item async for item in stream]


async def test_sentences_are_yielded_as_soon_as_they_end() -> None:
    seen: list[str] = []

    async def stream():
        for chunk in ["Hel", "lo Anna", ". How", " are", " you?", " Fine"]:
            yield chunk
            if chunk == ". How":
                assert seen == ["Hello Anna."]  # the first sentence left before the rest arrived

    async for sentence in sentences(stream()):
        seen.append(sentence)
    assert seen == ["Hello Anna.", "How are you?", "Fine"]


async def test_abbreviations_decimals_and_initials_do_not_cut() -> None:
    text = "Dr. Smith sees you at 3.30 today. J. Doe is away! Okay?"
    assert await collect(sentences(tokens(*text))) == [
        "Dr. Smith sees you at 3.30 today.",
        "J. Doe is away!",
        "Okay?",
    ]


async def test_quotes_newlines_and_empty_chunks() -> None:
    assert await collect(sentences(tokens('He said "yes."', "", " Then\nleft"))) == [
        'He said "yes."',
        "Then",
        "left",
    ]


async def test_a_long_run_without_punctuation_is_cut_at_a_space() -> None:
    long = " ".join(["word"] * 100)
    out = await collect(sentences(tokens(long)))
    assert len(out) > 1 and all(len(s) <= 240 for s in out) and " ".join(out) == long


def test_split_and_normalize() -> None:
    assert split_sentences("One. Two!") == ["One.", "Two!"]
    assert split_sentences("   ") == []
    assert normalize("Yes, PLEASE!  Don’t go…") == "yes please don't go"
