"""What the controller sends to call-api on a call's WebSocket: events, never dropped, ahead of
caller audio, which is bounded (the oldest frames are dropped when call-api falls behind)."""

import asyncio
from collections import deque

from voicebot_protocol.media import MediaEvent

from media_controller import metrics


class Outbox:
    def __init__(self, audio_frames: int) -> None:
        self._events: deque[str] = deque()
        self._audio: deque[bytes] = deque(maxlen=audio_frames)
        self._ready = asyncio.Event()
        self.closed = False
        self.attached = False  # a WebSocket is taking from this outbox

    def event(self, event: MediaEvent) -> None:
        if not self.closed:
            self._events.append(event.to_json())
            self._ready.set()

    def audio(self, frame: bytes) -> None:
        if self.closed or not self.attached:
            return
        if len(self._audio) == self._audio.maxlen:
            metrics.CALLER_FRAMES_DROPPED.inc()
        self._audio.append(frame)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self) -> str | bytes | None:
        """The next thing to send (events first); None once closed and drained of events."""
        while True:
            if self._events:
                return self._events.popleft()
            if self.closed:
                return None
            if self._audio:
                return self._audio.popleft()
            self._ready.clear()
            await self._ready.wait()
