"""Steady times for a stream of back-to-back 20 ms frames, from jittered stamps.

The echo guard lines up the caller's audio with what the bot sent at sample resolution, but the
stamps it gets are event-loop times: a bot packet leaves a few ms late now and then, caller packets
arrive in bursts. The audio itself is contiguous on both sides (the phone plays the bot's packets
back to back, the caller's decoder yields a continuous signal), so a frame's time is better taken as
the run's start plus 20 ms per frame. The start is the earliest the stamps allow (a stamp is never
early, only late): the minimum of stamp − 20·n over the run. A stamp much later than that (a pause in
the stream, a new playback) starts a new run."""

FRAME_MS = 20.0


class FrameClock:
    def __init__(self, frame_ms: float = FRAME_MS, new_run_after_ms: float = 40.0) -> None:
        self.frame_ms = frame_ms
        self.new_run_after_ms = new_run_after_ms
        self._start: float | None = None
        self._count = 0

    def at(self, stamp_ms: float) -> float:
        """The steady time of the next frame, stamped `stamp_ms`."""
        if self._start is not None:
            self._count += 1
            predicted = self._start + self._count * self.frame_ms
            if stamp_ms - predicted <= self.new_run_after_ms:
                self._start = min(self._start, stamp_ms - self._count * self.frame_ms)
                return self._start + self._count * self.frame_ms
        self._start, self._count = stamp_ms, 0
        return stamp_ms
