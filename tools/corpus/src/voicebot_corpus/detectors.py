"""The detectors the evaluation compares, each behind the one per-frame API of `barge_in`:
`bot_sent(frame, at_ms)` and `push(caller_frame, now_ms) -> Onset | None`."""

from collections.abc import Callable
from typing import Protocol

from media_controller.barge_in import BargeInDetector, BargeInSettings, Onset
from media_controller.echo_guard import EchoGuardSettings
from media_controller.silero_vad import SileroStream


class Detector(Protocol):
    def bot_sent(self, frame: bytes, at_ms: float) -> None: ...
    def push(self, caller_frame: bytes, now_ms: float) -> Onset | None: ...


class TodaysRule:
    """The media-controller's rule as it is (media_controller.vad with its settings' defaults),
    imported and called, not copied. It never hears what the bot sent."""

    def __init__(self) -> None:
        from media_controller.settings import Vad
        from media_controller.vad import SpeechDetector

        fields = Vad.model_fields  # the defaults, not this machine's environment
        self._detector = SpeechDetector(
            fields["aggressiveness"].default,
            fields["onset_frames"].default,
            fields["hangover_ms"].default,
            fields["min_rms"].default,
        )

    def bot_sent(self, frame: bytes, at_ms: float) -> None:
        return None

    def push(self, caller_frame: bytes, now_ms: float) -> Onset | None:
        change = self._detector.feed(caller_frame, now_ms)
        if change is not None and change.speaking:
            return Onset(change.at_ms, change.detected_ms)
        return None


class SileroOnly:
    """Silero VAD alone: `chunks` consecutive 32 ms chunks at or above `threshold`."""

    def __init__(self, threshold: float = 0.5, chunks: int = 2) -> None:
        self._silero = SileroStream()
        self._threshold = threshold
        self._needed = chunks
        self._run = 0
        self._run_start_ms = 0.0
        self._seen_chunks = 0
        self._fired = False

    def bot_sent(self, frame: bytes, at_ms: float) -> None:
        return None

    def push(self, caller_frame: bytes, now_ms: float) -> Onset | None:
        import numpy as np

        probability = self._silero.push(np.frombuffer(caller_frame, dtype=np.int16))
        if self._silero.chunks == self._seen_chunks:
            return None
        self._seen_chunks = self._silero.chunks
        if probability < self._threshold:
            self._run = 0
            return None
        if self._run == 0:
            self._run_start_ms = now_ms
        self._run += 1
        if self._run >= self._needed and not self._fired:
            self._fired = True
            return Onset(self._run_start_ms, now_ms)
        return None


FIRST_CHOICE = BargeInSettings(
    silero_threshold=0.4,
    silero_every_frame=False,
    silero_min_relative_rms=0.0,
    echo=EchoGuardSettings(consistent_ms=None),
)

DETECTORS: dict[str, Callable[[], Detector]] = {
    "today_webrtcvad": TodaysRule,
    "silero": SileroOnly,
    "webrtcvad+echo_guard": lambda: BargeInDetector(BargeInSettings(silero_threshold=None)),
    "webrtcvad+silero": lambda: BargeInDetector(BargeInSettings(echo_guard=False)),
    "webrtcvad+silero+echo_guard": BargeInDetector,
    # The rule as first chosen, for comparison (docs/turn-taking.md, "Latency"): Silero on whole
    # 32 ms chunks at 0.4 and on every frame of the run, an echo match at any delay.
    "webrtcvad+silero(chunks)+echo_guard": lambda: BargeInDetector(FIRST_CHOICE),
    "webrtcvad+silero(ungated)+echo_guard": lambda: BargeInDetector(BargeInSettings(silero_gated=False)),
}
