"""DeepgramSTT against a fake Deepgram live-streaming WebSocket server."""

import asyncio

import pytest
from call_api.providers.base import ProviderError
from call_api.providers.stt.deepgram import DeepgramSTT

FRAME = b"\x00\x01" * 320  # 20 ms of 16 kHz s16le
TIMEOUT = 0.5


def make_stt(server, **kwargs) -> DeepgramSTT:
    options = {
        "api_key": "test-key",
        "connect_timeout": TIMEOUT,
        "send_timeout": TIMEOUT,
        "finish_timeout": TIMEOUT,
        **kwargs,
    }
    return DeepgramSTT(url=server.url.replace("http://", "ws://") + "/v1/listen", **options)


async def feed_frames(session, frames: int) -> list[str]:
    partials = []
    for _ in range(frames):
        result = await session.feed(FRAME)
        if result is not None:
            assert not result.final
            partials.append(result.text)
        await asyncio.sleep(0)  # let the reader take in the server's messages
    return partials


async def test_streaming_gives_partials_and_a_final_transcript(fake_deepgram) -> None:
    fake_deepgram.transcript = "yes please book me in"
    session = await make_stt(fake_deepgram).open(["Yes, please!", "no thanks"])
    partials = await feed_frames(session, 60)  # 1.2 s of audio
    final = await session.finish()
    assert final.final and final.text == "yes please book me in"
    assert partials and partials[0] == "yes"
    assert fake_deepgram.close_streams == 1
    query = fake_deepgram.requests[-1]["query"]
    assert query["encoding"] == "linear16" and query["sample_rate"] == "16000" and query["channels"] == "1"
    assert query["interim_results"] == "true" and query["endpointing"] == "300"
    keywords = [v for k, v in fake_deepgram.requests[-1]["query_all"] if k == "keywords"]
    assert keywords == ["yes", "please", "no", "thanks"]


async def test_nova3_gets_keyterms(fake_deepgram) -> None:
    session = await make_stt(fake_deepgram, model="nova-3").open(["Yes, please!"])
    await session.finish()
    assert ("keyterm", "yes please") in fake_deepgram.requests[-1]["query_all"]


async def test_keepalive_is_sent_while_no_audio_flows(fake_deepgram) -> None:
    session = await make_stt(fake_deepgram, keepalive_seconds=0.1).open()
    await asyncio.wait_for(fake_deepgram.keepalive_seen.wait(), 5)
    await session.aclose()


async def test_wrong_key_is_refused(fake_deepgram) -> None:
    with pytest.raises(ProviderError, match="401"):
        await make_stt(fake_deepgram, api_key="wrong").open()


@pytest.mark.parametrize("mode", ["500", "hang"])
async def test_connect_failures_raise_provider_error(fake_deepgram, mode) -> None:
    fake_deepgram.mode = mode
    async with asyncio.timeout(5):
        with pytest.raises(ProviderError) as caught:
            await make_stt(fake_deepgram).open()
    assert caught.value.provider == "stt"


async def test_no_final_result_after_close_stream_is_a_timeout(fake_deepgram) -> None:
    fake_deepgram.mode = "hang_midway"
    session = await make_stt(fake_deepgram).open()
    await feed_frames(session, 10)
    async with asyncio.timeout(5):
        with pytest.raises(ProviderError, match="final result"):
            await session.finish()


async def test_a_stream_that_dies_midway_raises_provider_error(fake_deepgram) -> None:
    fake_deepgram.mode = "die_midway"
    session = await make_stt(fake_deepgram).open()
    async with asyncio.timeout(5):
        with pytest.raises(ProviderError):
            for _ in range(500):  # the server drops the connection after 0.2 s of audio
                await session.feed(FRAME)
                await asyncio.sleep(0.001)
            await session.finish()
    await session.aclose()


async def test_an_error_close_from_the_server_is_reported(fake_deepgram) -> None:
    fake_deepgram.mode = "error_close"  # Deepgram's way: an error message, then close 1011
    session = await make_stt(fake_deepgram).open()
    async with asyncio.timeout(5):
        with pytest.raises(ProviderError, match="DATA-0000"):
            for _ in range(500):
                await session.feed(FRAME)
                await asyncio.sleep(0.001)
    await session.aclose()


async def test_unreachable_server_is_a_provider_error() -> None:
    stt = DeepgramSTT(api_key="k", url="ws://127.0.0.1:9/v1/listen", connect_timeout=TIMEOUT)
    with pytest.raises(ProviderError):
        await stt.open()


async def test_a_worker_streams_more_calls_than_aiohttp_pools_by_default(fake_deepgram) -> None:
    """Each listening call holds its stream's WebSocket: the 101st call's stream (aiohttp's default
    pool is 100 connections, and the worker's providers share one session) still opens."""
    stt = make_stt(fake_deepgram, connect_timeout=3.0)
    sessions = []
    try:
        for _ in range(110):
            sessions.append(await stt.open())
        assert len(sessions) == 110
    finally:
        await asyncio.gather(*(session.aclose() for session in sessions), return_exceptions=True)
