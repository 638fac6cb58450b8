"""The pre-recorded "technical issue" filler: synthesized once per process at start-up, stored in
Redis under `static:technical_issue` (a WAV) and kept in memory, so it plays when Redis and TTS are
both down."""

import io
import logging
import wave
from dataclasses import dataclass

from call_api.cache import RedisCacheManager
from call_api.providers.base import TextToSpeech

log = logging.getLogger(__name__)

FILLER_KEY = "static:technical_issue"
FILLER_TEXT = "Sorry, I am having a technical issue. One moment please."


@dataclass(frozen=True)
class Clip:
    pcm: bytes
    sample_rate: int
    text: str


def to_wav(clip: Clip) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(clip.sample_rate)
        w.writeframes(clip.pcm)
    return buf.getvalue()


def from_wav(data: bytes, text: str) -> Clip:
    with wave.open(io.BytesIO(data), "rb") as w:
        return Clip(w.readframes(w.getnframes()), w.getframerate(), text)


async def load_filler(tts: TextToSpeech, cache: RedisCacheManager) -> Clip | None:
    """From Redis if there, else synthesized (and stored). None if neither works."""
    stored = await cache.get_bytes(FILLER_KEY)
    if stored:
        try:
            return from_wav(stored, FILLER_TEXT)
        except (wave.Error, EOFError):
            log.warning("stored filler is not a WAV; synthesizing it again")
    try:
        pcm = b"".join([chunk async for chunk in tts.synthesize(FILLER_TEXT)])
    except Exception:
        log.exception("could not synthesize the technical-issue filler")
        return None
    clip = Clip(pcm, tts.sample_rate, FILLER_TEXT)
    await cache.set_bytes(FILLER_KEY, to_wav(clip))
    return clip
