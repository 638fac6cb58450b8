"""Is it speech? pocketsphinx (the project's offline STT) on what the page recorded."""

from __future__ import annotations

from call_api.providers.stt.pocketsphinx import PocketsphinxSTT

RATE = 16000
FRAME = 640  # 20 ms at 16 kHz


async def transcribe(pcm: bytes, phrases: list[str]) -> str:
    session = await PocketsphinxSTT().open(phrases)
    try:
        for start in range(0, len(pcm), FRAME):
            await session.feed(pcm[start : start + FRAME])
        return (await session.finish()).text
    finally:
        await session.aclose()
