"""The caller-silence limit: a call whose caller sends no RTP for CALL_API_CALLER_SILENCE_SECONDS
ends with `call_ended caller_silence` (docs/security.md, "Calls end by themselves").

What counts is the caller's audio arriving at all (every 20 ms frame the media-controller decodes
from the caller's RTP, silent ones included), as telephony's RTP timeouts do (Asterisk
`rtptimeout`, FreeSWITCH `media_timeout`): a live phone line streams RTP while the caller listens,
so no RTP means the line is dead, one-way or was never set up. A caller who is there but says
nothing is the dialog's to handle (its reprompts), and the maximum call duration bounds the rest."""

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class CallerSilence:
    """`heard()` on every caller frame; `expired()` returns once `limit` seconds passed without one
    (counted from the watch's creation: a caller who never sends ends the same way)."""

    def __init__(self, limit: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self.last_heard = clock()

    def heard(self) -> None:
        self.last_heard = self._clock()

    def remaining(self) -> float:
        return self.last_heard + self.limit - self._clock()

    async def expired(self) -> None:
        # One timer per limit, not per frame: a frame only moves the deadline the sleep wakes to.
        while (remaining := self.remaining()) > 0:
            await self._sleep(remaining)
