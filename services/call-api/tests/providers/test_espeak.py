"""EspeakTTS: streaming PCM without the WAV header, errors, and cancellation killing the process."""

import asyncio
import contextlib
import os

import pytest
from call_api.providers.base import ProviderError
from call_api.providers.tts.espeak import EspeakTTS


def espeak_children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if fields[1] == me and name.startswith("espeak"):
            found.add(int(pid))
    return found


async def test_pcm_is_streamed_per_sentence_without_header() -> None:
    tts = EspeakTTS()
    chunks = [chunk async for chunk in tts.synthesize("Hello there. This is the second sentence.")]
    pcm = b"".join(chunks)
    assert len(chunks) >= 2 and all(len(c) % 2 == 0 for c in chunks)
    assert b"RIFF" not in pcm[:64] and b"data" not in pcm[:64]
    seconds = len(pcm) / 2 / tts.sample_rate
    assert 1.5 < seconds < 6


async def test_text_that_looks_like_an_option_is_spoken() -> None:
    pcm = b"".join([chunk async for chunk in EspeakTTS().synthesize("--version -x hello")])
    assert len(pcm) > 10000


async def test_bad_voice_and_missing_binary_fail_check() -> None:
    with pytest.raises(ProviderError, match="voice"):
        await EspeakTTS(voice="zz-nosuch").check()
    with pytest.raises(ProviderError, match="not installed"):
        await EspeakTTS(binary="no-such-espeak").check()


async def test_cancelling_the_consumer_kills_the_process() -> None:
    tts = EspeakTTS(words_per_minute=80)
    first_chunk = asyncio.Event()

    async def consume() -> None:
        long_sentence = " ".join(["appointment"] * 400)
        async with contextlib.aclosing(tts.synthesize(long_sentence)) as audio:
            async for _ in audio:
                first_chunk.set()
                await asyncio.Event().wait()  # a consumer that stops reading (a barge-in)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_chunk.wait(), 5)
    assert espeak_children()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert espeak_children() == set()
