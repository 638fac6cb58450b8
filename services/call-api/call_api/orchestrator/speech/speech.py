"""Speech: one bot utterance on one playback stream, from its first PCM to playback_finished."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from voicebot_protocol.media import PlaybackFinished, PlaybackStarted

from call_api.orchestrator.speech.utterance import Utterance


def _future() -> "asyncio.Future[Any]":
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False)
class Speech:
    """stream_id names the playback stream (play_audio, playback_* events); `utterance` holds the
    text with the PCM length of each sentence; `task` produces the audio (TTS, or a stored clip);
    `started` / `finished` resolve with the controller's playback_started / playback_finished.
    A barge-in sets `interrupted`, and `heard` is then the part of the text the caller heard
    (else the whole text) and `rest` the part they did not (with `pending`, the sentence the
    dialog had given whose audio had not begun)."""

    stream_id: str
    utterance: Utterance
    interruptible: bool = True  # a reply may be cut by a barge-in; the filler plays out
    task: "asyncio.Task[None] | None" = None
    opened: bool = False  # playback_start sent: the stream is open on the controller
    started: "asyncio.Future[PlaybackStarted]" = field(default_factory=_future)
    finished: "asyncio.Future[PlaybackFinished]" = field(default_factory=_future)
    interrupted: bool = False
    stop_audio_at_ms: float | None = None  # monotonic ms: the barge-in's stop_audio queued to the client
    heard: str = ""
    rest: str = ""
    pending: str = ""

    @property
    def text(self) -> str:
        return self.utterance.text

    @property
    def duration_ms(self) -> float:
        return self.utterance.duration_ms
