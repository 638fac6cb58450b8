"""The media-controller's per-call events as a benchmark sees them: each with its arrival time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicebot_mediaclient import MediaSession


@dataclass
class EventLog:
    session: MediaSession
    events: list[tuple[float, Any]] = field(default_factory=list)  # (monotonic arrival, event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> EventLog:
        self._task = asyncio.create_task(self._collect(), name=f"events-{self.session.call_id}")
        return self

    async def _collect(self) -> None:
        async for event in self.session.events():
            self.events.append((time.monotonic(), event))
            self._changed.set()
        self._changed.set()

    async def wait(
        self, predicate: Callable[[Any], bool], timeout: float, since: int = 0
    ) -> tuple[float, Any]:
        """The first (arrival, event) from index `since` matching predicate (TimeoutError if none)."""
        async with asyncio.timeout(timeout):
            index = since
            while True:
                while index < len(self.events):
                    item = self.events[index]
                    index += 1
                    if predicate(item[1]):
                        return item
                if self._task is not None and self._task.done():
                    raise ConnectionError("the media events ended")
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
