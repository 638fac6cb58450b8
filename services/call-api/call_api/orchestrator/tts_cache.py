"""TTS with a Redis cache: (provider, voice, rate, text) → PCM. A miss, or a dead Redis, synthesizes."""

import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

from call_api import metrics
from call_api.cache import RedisCacheManager
from call_api.providers.base import TextToSpeech


def cache_key(tts: TextToSpeech, text: str) -> str:
    digest = hashlib.sha256(f"{tts.name}|{tts.voice}|{tts.sample_rate}|{text}".encode()).hexdigest()
    return f"tts:{digest}"


def is_personal(text: str, personal_values: frozenset[str]) -> bool:
    """The text carries one of the call's variables (a name, a date): audio not to keep."""
    lowered = text.lower()
    return any(value in lowered for value in personal_values)


def personal_values_of(initial_vars: dict[str, object]) -> frozenset[str]:
    return frozenset(str(v).lower() for v in initial_vars.values() if v is not None and len(str(v)) >= 2)


async def synthesize_cached(
    tts: TextToSpeech, cache: RedisCacheManager, text: str, ttl: int
) -> AsyncIterator[bytes]:
    """ttl 0: not cached at all (personalised text under the default policy)."""
    if ttl <= 0:
        async with contextlib.aclosing(cast(AsyncGenerator[bytes, None], tts.synthesize(text))) as stream:
            async for chunk in stream:
                yield chunk
        return
    key = cache_key(tts, text)
    cached = await cache.get_bytes(key)
    if cached:
        metrics.CACHE_LOOKUPS.labels("tts", "hit").inc()
        yield cached
        return
    metrics.CACHE_LOOKUPS.labels("tts", "miss" if not cache.degraded else "unavailable").inc()
    chunks: list[bytes] = []
    # aclosing: a barge-in that stops this generator also stops the synthesis (kills espeak-ng,
    # closes the HTTP response) at once instead of at garbage collection.
    async with contextlib.aclosing(cast(AsyncGenerator[bytes, None], tts.synthesize(text))) as stream:
        async for chunk in stream:
            chunks.append(chunk)
            yield chunk
    if chunks:
        await cache.set_bytes(key, b"".join(chunks), ttl=ttl)
