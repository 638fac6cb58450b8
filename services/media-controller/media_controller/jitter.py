"""A small reorder buffer for RTP by sequence number.

In-order packets pass straight through (no added latency); a gap holds later packets back until
the missing one arrives or `depth` packets are waiting, then the gap is skipped."""

from typing import Generic, TypeVar

T = TypeVar("T")
_RESTART_GAP = 3000  # a jump this large is a new stream (sender restarted), not loss


class ReorderBuffer(Generic[T]):
    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self.lost = 0
        self.dropped_late = 0
        self._next: int | None = None  # extended (unwrapped) sequence number expected next
        self._held: dict[int, T] = {}

    def _extend(self, sequence: int) -> int:
        assert self._next is not None
        delta = (sequence - self._next) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        return self._next + delta

    def push(self, sequence: int, item: T) -> list[T]:
        """Add one packet; returns the packets now releasable, in order."""
        if self._next is None:
            self._next = sequence
        extended = self._extend(sequence)
        if extended == self._next and not self._held:  # the usual case: in order, nothing waiting
            self._next += 1
            return [item]
        if abs(extended - self._next) > _RESTART_GAP:
            ready = self.flush()
            self._next = sequence
            extended = sequence
            return [*ready, *self.push(sequence, item)]
        if extended < self._next or extended in self._held:
            self.dropped_late += 1
            return []
        self._held[extended] = item
        ready = self._drain()
        if len(self._held) > self.depth:
            oldest = min(self._held)
            self.lost += oldest - self._next
            self._next = oldest
            ready += self._drain()
        return ready

    def flush(self) -> list[T]:
        """Release everything held, skipping the gaps (e.g. the sender went quiet)."""
        ready: list[T] = []
        for extended in sorted(self._held):
            assert self._next is not None
            self.lost += extended - self._next
            ready.append(self._held[extended])
            self._next = extended + 1
        self._held.clear()
        return ready

    @property
    def holding(self) -> int:
        return len(self._held)

    def _drain(self) -> list[T]:
        ready: list[T] = []
        while self._next in self._held:
            ready.append(self._held.pop(self._next))
            self._next += 1
        return ready
