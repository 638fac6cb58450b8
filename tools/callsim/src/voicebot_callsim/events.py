"""A timestamped event stream: each event with its arrival time (monotonic), and waits for the
first event from some index on that matches a predicate, with a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


@dataclass(frozen=True)
class Arrival(Generic[T]):
    at: float  # time.monotonic() when it arrived
    event: T


A = TypeVar("A", bound=Arrival[Any])


class EventLog(Sequence[A]):
    """Arrivals in order; `wait` wakes on each new one. `close(reason)` marks the stream ended: a
    wait that finds nothing more then raises ConnectionError(reason).

        log = EventLog[Arrival[str]](Arrival)   # or a subclass of Arrival, e.g. callsim's Event
        log.add("hello"); await log.wait(lambda a: a.event == "hello", timeout=1)
    """

    def __init__(self, entry: Callable[[float, Any], A]) -> None:
        self._entry = entry
        self._items: list[A] = []
        self._changed = asyncio.Event()
        self._closed: str | None = None

    def add(self, event: Any) -> A:
        item = self._entry(time.monotonic(), event)
        self._items.append(item)
        self._changed.set()
        return item

    def close(self, reason: str = "the event stream ended") -> None:
        self._closed = reason
        self._changed.set()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def wait(self, predicate: Callable[[A], bool], timeout: float, since: int = 0) -> A:
        """The first arrival from index `since` on matching predicate (TimeoutError if none comes)."""
        async with asyncio.timeout(timeout):
            index = since
            while True:
                while index < len(self._items):
                    item = self._items[index]
                    index += 1
                    if predicate(item):
                        return item
                if self._closed is not None:
                    raise ConnectionError(self._closed)
                self._changed.clear()
                await self._changed.wait()

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> A: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[A]: ...
    def __getitem__(self, index: int | slice) -> A | Sequence[A]:
        return self._items[index]

    def __iter__(self) -> Iterator[A]:
        return iter(self._items)


async def collect(source: AsyncIterator[Any], log: EventLog[Any], ended: str = "the events ended") -> None:
    """Add every event of `source` to `log` as it arrives; close the log when the source ends."""
    try:
        async for event in source:
            log.add(event)
    finally:
        log.close(ended)
