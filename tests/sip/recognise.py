"""Is a name heard in the bot's audio? pocketsphinx (its bundled en-us model) on the decoded audio,
against a grammar built from the phrase the bot said: the words before the name in order, then one
of the candidate names, then any of the phrase's other words. The name's slot is fixed, so a name
that sounds like one of the phrase's words ("Ann", "an") is told apart; the rest is free, so a
rendition where pocketsphinx misses a word of the tail still reaches a final state (a whole-sentence
grammar failed about one Piper rendition in three through G.711)."""

from __future__ import annotations

import asyncio
import re

import pocketsphinx

SAMPLE_RATE = 16000


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def name_grammar(phrase: str, name: str, others: tuple[str, ...]) -> tuple[str, int]:
    """The JSGF grammar for `phrase` (which says `name`), and the index of the name's word."""
    before, _, after = phrase.lower().partition(name.lower())
    head, tail = words_of(before), sorted(set(words_of(after)))
    names = " | ".join(dict.fromkeys(n.lower() for n in (name, *others)))
    rule = " ".join([*head, f"( {names} )", f"( {' | '.join(tail)} )*" if tail else ""])
    return f"#JSGF V1.0;\ngrammar heard;\npublic <heard> = {rule.strip()} ;\n", len(head)


def _decode(pcm16k: bytes, grammar: str) -> str:
    decoder = pocketsphinx.Decoder(lm=None, loglevel="ERROR", samprate=SAMPLE_RATE)
    decoder.add_jsgf_string("heard", grammar)
    decoder.activate_search("heard")
    decoder.start_utt()
    decoder.process_raw(pcm16k, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


async def heard_name(pcm16k: bytes, phrase: str, name: str, others: tuple[str, ...]) -> str:
    """The name pocketsphinx hears in its slot of `phrase` ("" when it heard nothing), and why."""
    grammar, index = name_grammar(phrase, name, others)
    heard = (await asyncio.to_thread(_decode, pcm16k, grammar)).split()
    return heard[index] if len(heard) > index else ""
