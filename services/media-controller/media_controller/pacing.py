"""One pacing clock per controller process: every call's bot stream asks to be woken when its next
20 ms packet is due, and one timer sends all the packets due in one pass (instead of a task and a
timer per stream, whose wake-ups cost more than the packets they send).

A pass sends every packet due within COALESCE_SECONDS from now: sending up to that much early keeps
the number of wake-ups bounded (about 20 ms / COALESCE_SECONDS per frame time, whatever the number
of streams) at the price of that much jitter, well inside a receiver's jitter buffer."""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Callable
from heapq import heappop, heappush

COALESCE_SECONDS = 0.002

log = logging.getLogger(__name__)

# Called when due with the clock's time; returns when it is due next, or None (not until rescheduled).
DueCallback = Callable[[float], float | None]


class Wakeup:
    """One scheduled wake-up of a stream; `cancel()` makes the clock skip it."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: DueCallback) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class PacingClock:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, Wakeup]] = []
        self._order = itertools.count()  # ties: first scheduled, first sent
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self.passes = 0  # for tests and metrics: how many times the clock woke

    def time(self) -> float:
        return self._loop.time()

    def schedule(self, at: float, callback: DueCallback) -> Wakeup:
        """Call `callback` once `at` (the loop's monotonic clock) is reached; again at what it returns."""
        wakeup = Wakeup(callback)
        self._push(at, wakeup)
        return wakeup

    @property
    def pending(self) -> int:
        return sum(1 for _, _, wakeup in self._heap if not wakeup.cancelled)

    def catch_up(self) -> None:
        """Make the pass now if it is due. asyncio runs all of a loop iteration's I/O callbacks
        before the timers that fell due meanwhile: a burst of caller packets (each decoded, a few
        tens of µs) would hold every call's due bot packet back until its end. The caller tap
        calls this before each packet, so the pass waits for one packet at most."""
        if self._timer is not None and self._loop.time() >= self._timer_at:
            self._timer.cancel()
            self._pass()

    def _push(self, at: float, wakeup: Wakeup) -> None:
        heappush(self._heap, (at, next(self._order), wakeup))
        if at < self._timer_at:
            self._arm(at)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._pass)

    def _pass(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        self.passes += 1
        now = self._loop.time()
        horizon = now + COALESCE_SECONDS
        heap, order = self._heap, self._order  # locals: this loop runs once per packet
        while heap and heap[0][0] <= horizon:
            wakeup = heappop(heap)[2]
            if wakeup.cancelled:
                continue
            try:
                again = wakeup.callback(now)
            except Exception:
                log.exception("paced stream failed")
                continue
            if again is not None and not wakeup.cancelled:
                heappush(heap, (again, next(order), wakeup))
        while heap and heap[0][2].cancelled:
            heappop(heap)
        if heap:
            self._arm(heap[0][0])


_CLOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PacingClock] = weakref.WeakKeyDictionary()


def process_clock() -> PacingClock:
    """The clock of the running event loop (one per controller process, which runs one loop)."""
    loop = asyncio.get_running_loop()
    clock = _CLOCKS.get(loop)
    if clock is None:
        clock = _CLOCKS[loop] = PacingClock(loop)
    return clock
