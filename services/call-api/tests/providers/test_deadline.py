"""The one deadline helper: a hung provider step becomes that provider's ProviderError, a stream
is closed when it stalls, and a cancellation always reaches the caller."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from call_api.providers.base import ProviderError
from call_api.providers.deadline import bounded, each_within, within


async def test_a_hung_step_is_the_provider_s_failure() -> None:
    with pytest.raises(ProviderError) as failure:
        await within(asyncio.Event().wait(), 0.01, "stt", "final transcript")
    assert failure.value.provider == "stt"
    assert "final transcript: nothing within 0.01s" in str(failure.value)


async def test_a_stalled_stream_is_closed() -> None:
    closed = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # stalls
            yield b"never"
        finally:
            closed.set()

    got: list[bytes] = []
    with pytest.raises(ProviderError) as failure:
        async for chunk in each_within(chunks(), 0.01, "tts", "synthesis"):
            got.append(chunk)
    assert got == [b"first"] and failure.value.provider == "tts"
    assert closed.is_set()


async def test_a_cancellation_is_never_swallowed() -> None:
    # The step completes in the same loop iteration as the cancellation arrives: the cancellation
    # must still reach the awaiting task (asyncio.wait_for in 3.11 could return the result instead).
    step_done = asyncio.Event()

    async def step() -> str:
        await step_done.wait()
        return "result"

    task = asyncio.create_task(bounded(step(), 5.0))
    await asyncio.sleep(0)  # the task is waiting in the step
    step_done.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
