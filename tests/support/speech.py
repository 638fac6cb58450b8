"""Is it speech, and which words? An offline recogniser (pocketsphinx, the project's default STT)
listening for the given phrases, fed 16 kHz PCM in 20 ms frames as the orchestrator feeds it."""

from __future__ import annotations

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
