"""The one deadline helper of call-api: a provider step (or each chunk of a provider's stream)
bounded in time, a hung provider becoming that provider's ProviderError.

asyncio.timeout, never asyncio.wait_for: in Python 3.11 wait_for can swallow a cancellation that
arrives just as the awaited step completes, and a barge-in or the call's end would then be lost."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from call_api.providers.base import ProviderError

T = TypeVar("T")


async def bounded(step: Awaitable[T], seconds: float) -> T:
    """`step`, or TimeoutError after `seconds`."""
    async with asyncio.timeout(seconds):
        return await step


async def within(step: Awaitable[T], seconds: float, provider: str, what: str) -> T:
    """`step`, or ProviderError(provider) after `seconds` (call_ended and the logs name it)."""
    try:
        return await bounded(step, seconds)
    except TimeoutError as error:
        raise ProviderError(provider, f"{what}: nothing within {seconds:g}s") from error


async def each_within(chunks: AsyncIterator[T], seconds: float, provider: str, what: str) -> AsyncIterator[T]:
    """The chunks of a stream, each of which must arrive within `seconds`; closes the stream."""
    iterator = aiter(chunks)
    try:
        while True:
            try:
                item = await bounded(anext(iterator), seconds)
            except StopAsyncIteration:
                return
            except TimeoutError as error:
                raise ProviderError(provider, f"{what}: nothing within {seconds:g}s") from error
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
