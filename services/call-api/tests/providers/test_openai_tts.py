"""OpenAITTS against a fake /v1/audio/speech server streaming 24 kHz PCM."""

import asyncio
import time

import pytest
from call_api.providers.base import ProviderError
from call_api.providers.tts.openai import OpenAITTS

TIMEOUT = 0.5


def make_tts(server, **kwargs) -> OpenAITTS:
    options = {
        "api_key": "test-key",
        "connect_timeout": TIMEOUT,
        "first_chunk_timeout": TIMEOUT,
        "chunk_timeout": TIMEOUT,
        **kwargs,
    }
    return OpenAITTS(base_url=f"{server.url}/v1", **options)


async def test_speech_is_streamed_in_whole_samples(fake_openai) -> None:
    tts = make_tts(fake_openai, voice="nova")
    started = time.perf_counter()
    first_ms = None
    chunks = []
    async for chunk in tts.synthesize("Hello Anna."):
        first_ms = first_ms or (time.perf_counter() - started) * 1000
        chunks.append(chunk)
    print(f"\nOpenAI TTS (fake) first chunk {first_ms:.1f} ms")
    assert tts.sample_rate == 24000
    assert all(len(chunk) % 2 == 0 for chunk in chunks)
    expected = b"".join(fake_openai.pcm_chunks)
    assert b"".join(chunks) == expected[: len(expected) - len(expected) % 2]
    assert fake_openai.requests[-1] == {
        "model": "gpt-4o-mini-tts",
        "input": "Hello Anna.",
        "voice": "nova",
        "response_format": "pcm",
    }


async def test_check_passes_on_a_reachable_server_and_is_remembered_briefly(fake_openai) -> None:
    tts = make_tts(fake_openai)
    await tts.check()
    fake_openai.mode = "500"
    await tts.check()  # within check_ttl: no request
    tts.check_ttl = 0
    with pytest.raises(ProviderError, match="500"):
        await tts.check()


@pytest.mark.parametrize("mode", ["500", "hang"])
async def test_check_fails_when_the_server_is_broken(fake_openai, mode) -> None:
    fake_openai.mode = mode
    async with asyncio.timeout(5):
        with pytest.raises(ProviderError):
            await make_tts(fake_openai).check()


async def test_check_fails_with_a_wrong_key(fake_openai) -> None:
    with pytest.raises(ProviderError, match="401"):
        await make_tts(fake_openai, api_key="wrong").check()


async def test_check_fails_when_nothing_listens() -> None:
    with pytest.raises(ProviderError):
        await OpenAITTS(base_url="http://127.0.0.1:9/v1", api_key="k", connect_timeout=TIMEOUT).check()


@pytest.mark.parametrize("mode", ["500", "hang", "hang_midway", "die_midway"])
async def test_failures_raise_provider_error(fake_openai, mode) -> None:
    fake_openai.mode = mode
    received = 0
    async with asyncio.timeout(5):  # never a hang
        with pytest.raises(ProviderError) as caught:
            async for chunk in make_tts(fake_openai).synthesize("Hello."):
                received += len(chunk)
    assert caught.value.provider == "tts"
    if mode == "hang_midway":
        assert received > 0  # audio came, then the stream stalled
    # (die_midway: aiohttp may drop the bytes that arrived with the broken connection)


async def test_cancelling_the_consumer_closes_the_stream(fake_openai) -> None:
    fake_openai.mode = "hang_midway"
    got_audio = asyncio.Event()

    async def consume() -> None:
        async for _ in make_tts(fake_openai, chunk_timeout=30).synthesize("Hello."):
            got_audio.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_audio.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
