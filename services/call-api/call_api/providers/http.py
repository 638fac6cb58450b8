"""HTTP plumbing shared by the cloud adapters: one aiohttp session per event loop (connections to a
provider are reused across calls), and deadlines that turn a silent provider into a ProviderError."""

import asyncio
import weakref
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp

from call_api.providers.base import ProviderError
from call_api.providers.deadline import bounded

T = TypeVar("T")

_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
    weakref.WeakKeyDictionary()
)


def shared_session() -> aiohttp.ClientSession:
    """The process's client session for the running loop (created on first use)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        # No cap on connections: a streaming STT call holds one WebSocket for the whole call, so
        # aiohttp's default of 100 left every request of the worker's later calls (TTS, the LLM,
        # their STT) waiting for a free connection once 100 calls listened.
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        _sessions[loop] = session
    return session


async def close_shared_session() -> None:
    """Call at shutdown (and in tests)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def request_timeout(connect: float) -> aiohttp.ClientTimeout:
    """No overall limit (a streamed answer may be long and read slowly); reads are bounded by within()."""
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect)


async def within(step: Awaitable[T], seconds: float, provider: str, what: str) -> T:
    """Await one step of a provider exchange, translating timeouts and transport errors."""
    try:
        return await bounded(step, seconds)
    except TimeoutError as error:
        raise ProviderError(provider, f"{what}: nothing within {seconds:g}s") from error
    except (aiohttp.ClientError, OSError, ValueError) as error:  # ValueError: e.g. a line too long
        raise ProviderError(provider, f"{what}: {type(error).__name__}: {error}") from error


async def raise_for_status(response: aiohttp.ClientResponse, provider: str, seconds: float) -> None:
    if response.status < 300:
        return
    try:
        body = await bounded(response.content.read(2000), seconds)
        detail = body.decode(errors="replace").strip()
    except (TimeoutError, aiohttp.ClientError):
        detail = ""
    raise ProviderError(provider, f"HTTP {response.status} from {response.url.host}: {detail[:300]}")
