"""The TTS cache keeps shared prompts, not audio of the call's variables (personal data)."""

from collections.abc import AsyncIterator

from call_api.orchestrator.tts_cache import is_personal, personal_values_of, synthesize_cached


class FakeTTS:
    name, voice, sample_rate = "fake", "v", 16000

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.spoken.append(text)
        yield text.encode()


class FakeCache:
    degraded = False

    def __init__(self) -> None:
        self.stored: dict[str, tuple[bytes, int]] = {}

    async def get_bytes(self, key: str) -> bytes | None:
        return self.stored.get(key, (None, 0))[0]

    async def set_bytes(self, key: str, value: bytes, ttl: int) -> bool:
        self.stored[key] = (value, ttl)
        return True


def test_personal_text_is_recognised() -> None:
    values = personal_values_of({"contact_name": "Ann", "ticket": 42, "x": "", "none": None})
    assert values == frozenset({"ann", "42"})
    assert is_personal("Hello Ann, this is the clinic.", values)
    assert not is_personal("Which day suits you?", values)


async def test_ttl_zero_is_not_cached_and_shared_prompts_are() -> None:
    tts, cache = FakeTTS(), FakeCache()
    for _ in range(2):
        assert [c async for c in synthesize_cached(tts, cache, "Hello Ann.", 0)] == [b"Hello Ann."]  # type: ignore[arg-type]
        assert [c async for c in synthesize_cached(tts, cache, "Which day?", 3600)] == [b"Which day?"]  # type: ignore[arg-type]
    assert tts.spoken == ["Hello Ann.", "Which day?", "Hello Ann."]  # the second "Which day?" was a hit
    assert [ttl for _, ttl in cache.stored.values()] == [3600]
