"""The timings of one bot reply, for its "bot spoke" log line (bench/ reads them)."""

import time
from dataclasses import dataclass, field

from call_api import metrics


@dataclass
class ReplyTiming:
    """timer: the reply's latencies (from the caller's utterance it answers, if any);
    vad_speech_end_ms: the media VAD's end of that utterance (monotonic ms)."""

    timer: metrics.TurnTimer = field(default_factory=metrics.TurnTimer)
    vad_speech_end_ms: float | None = None
    playing_at: float | None = None

    def playing(self) -> None:
        """The reply's first audio goes to the media plane now."""
        self.timer.playing()
        self.playing_at = time.monotonic()

    def log_fields(self) -> dict[str, float | None]:
        """Durations in ms, and `*_at_ms` instants in monotonic-clock ms (the same clock in every
        process of the host). speech_end = when the orchestrator saw the end of the caller's
        utterance (after the VAD hangover); first_audio_ms = speech_end → the reply's first audio
        handed to the media plane."""
        timer = self.timer
        replying = timer.speech_end is not None
        return {
            "vad_speech_end_at_ms": self.vad_speech_end_ms if replying else None,
            "speech_end_at_ms": _ms(timer.speech_end),
            "stt_final_ms": _ms(timer.stt_seconds) if replying else None,
            "dialog_first_text_ms": _ms(timer.text_seconds),
            "tts_first_audio_ms": _ms(timer.audio_seconds),
            "first_audio_ms": (
                _ms(self.playing_at - timer.speech_end)
                if timer.speech_end is not None and self.playing_at
                else None
            ),
            "first_audio_at_ms": _ms(self.playing_at),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
