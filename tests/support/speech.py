"""Is it speech, and which words? An offline recogniser (pocketsphinx, the project's default STT)
listening for the given phrases, fed 16 kHz PCM in 20 ms frames as the orchestrator feeds it."""

from __future__ import annotations

from collections.abc import Iterable

from call_api.providers.base import SpeechToText
from call_api.providers.stt.pocketsphinx import PocketsphinxSTT

RATE = 16000
FRAME = 640  # 20 ms at 16 kHz


async def transcribe(pcm: bytes, phrases: list[str], stt: SpeechToText | None = None) -> str:
    """What `stt` (default: pocketsphinx) hears in 16 kHz s16le mono PCM."""
    session = await (stt or PocketsphinxSTT()).open(phrases)
    try:
        for start in range(0, len(pcm), FRAME):
            await session.feed(pcm[start : start + FRAME])
        return (await session.finish()).text
    finally:
        await session.aclose()


def with_prefixes(phrases: Iterable[str]) -> list[str]:
    """Each phrase and every leading part of it of two words or more. Pocketsphinx answers nothing
    when its best path ends inside a grammar phrase (a voice that varies from run to run, audio
    at telephone bandwidth); with the prefixes in the grammar it reports the words it did follow."""
    return [" ".join(words[:n]) for words in (p.split() for p in phrases) for n in range(2, len(words) + 1)]
