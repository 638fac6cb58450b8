"""A sentence synthesized ahead of time: the first sentence of what a barge-in cut off, made while
the caller's next words are heard, so that a resumption after a backchannel starts at once instead
of waiting for TTS (Piper needs 0.2-0.5 s for a short sentence on a busy core)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(eq=False)
class Ahead:
    """`text`'s audio, being made by `task` (its PCM, or the provider's failure)."""

    text: str
    task: "asyncio.Task[bytes]"

    @classmethod
    def start(cls, text: str, chunks: Callable[[], AsyncIterator[bytes]]) -> "Ahead":
        async def collect() -> bytes:
            return b"".join([chunk async for chunk in chunks()])

        task = asyncio.create_task(collect(), name=f"tts-ahead:{len(text)}")
        task.add_done_callback(_retrieve)
        return cls(text, task)

    async def audio(self, timeout: float) -> bytes | None:
        """The PCM, waiting at most `timeout` for it; None if it failed, was cancelled or is late
        (then the caller synthesizes as usual). Never raises the task's cancellation as its own."""
        await asyncio.wait([self.task], timeout=timeout)
        if not self.task.done() or self.task.cancelled() or self.task.exception() is not None:
            self.cancel()
            return None
        return self.task.result() or None

    def cancel(self) -> None:
        self.task.cancel()


def _retrieve(task: "asyncio.Task[bytes]") -> None:
    """A failure of a synthesis nobody used is not an error: read it, so it is not logged as one."""
    with contextlib.suppress(asyncio.CancelledError):
        task.exception()
