"""MediaSession: one call's media — signalling, bot playback, events and caller audio."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import ValidationError
from voicebot_protocol.media import (
    MediaEvent,
    MediaFailure,
    PlaybackEnd,
    PlaybackStart,
    PlaybackStop,
    SessionInfo,
    SignalRequest,
    SignalResponse,
    media_event_adapter,
)

from voicebot_mediaclient.errors import MediaUnavailable

if TYPE_CHECKING:
    from voicebot_mediaclient.client import MediaClient

log = logging.getLogger(__name__)

PCM_FRAME_MAX = 32 * 1024  # the controller refuses WebSocket frames over 256 KiB
CALLER_AUDIO_FRAMES = 100  # 2 s of 20 ms frames; older ones are dropped if nobody reads


class MediaSession:
    def __init__(
        self,
        client: MediaClient,
        info: SessionInfo,
        trace_id: str,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        base_url: str | None = None,
        audio_frames: int = CALLER_AUDIO_FRAMES,
    ) -> None:
        self.client = client
        self.base_url = base_url or client.base_url  # the controller this call lives on
        self.call_id = info.call_id
        self.bot_producer_id = info.bot_producer_id
        self.router_rtp_capabilities = info.router_rtp_capabilities
        self.trace_id = trace_id
        self.caller_frames_dropped = 0
        self._ws = ws
        self._closed = False
        self._closing: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue()
        self._audio: asyncio.Queue[bytes | None] = asyncio.Queue(audio_frames)
        self._reader = asyncio.create_task(self._read(), name=f"media-events-{self.call_id}")
        self._log_extra = {"call_id": self.call_id, "trace_id": trace_id}

    # --- commands ---------------------------------------------------------------------------------

    async def signal(self, method: str, data: dict[str, Any]) -> dict[str, Any]:
        """A mediasoup_request passed through; raises MediaRequestError if refused."""
        body = SignalRequest(method=method, data=data).model_dump()
        answer = await self.client.request(
            "POST", f"/v1/sessions/{self.call_id}/signal", self.trace_id, body, base_url=self.base_url
        )
        return SignalResponse.model_validate(answer).data

    async def start_playback(
        self, stream_id: str, sample_rate: int, text: str | None = None, *, interruptible: bool = False
    ) -> None:
        """interruptible: the controller stops this stream itself the moment it reports a barge-in
        (the stop then costs no round trip); call-api still sends stop_audio and playback_stop."""
        start = PlaybackStart(
            stream_id=stream_id, sample_rate=sample_rate, text=text, interruptible=interruptible
        )
        await self._send(start.to_json())

    async def send_pcm(self, pcm: bytes) -> None:
        """PCM s16le mono at the open stream's sample rate, any length (sent in bounded frames)."""
        for start in range(0, len(pcm), PCM_FRAME_MAX):
            await self._send(pcm[start : start + PCM_FRAME_MAX])

    async def end_playback(self, stream_id: str) -> None:
        await self._send(PlaybackEnd(stream_id=stream_id).to_json())

    async def stop_playback(self, stream_id: str | None = None) -> None:
        await self._send(PlaybackStop(stream_id=stream_id).to_json())

    async def stats(self) -> dict[str, Any]:
        """The session's objects in the mediasoup service (transports, producers, consumers)."""
        return await self.client.request(
            "GET", f"/v1/sessions/{self.call_id}/stats", self.trace_id, base_url=self.base_url
        )

    async def _send(self, frame: str | bytes) -> None:
        if self._closed or self._ws.closed:
            raise MediaUnavailable("the media session's WebSocket is closed")
        try:
            if isinstance(frame, str):
                await self._ws.send_str(frame)
            else:
                await self._ws.send_bytes(frame)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise MediaUnavailable(f"media WebSocket send failed: {exc!r}") from None

    # --- what comes back --------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[MediaEvent]:
        """Typed events (voicebot_protocol.media.MediaEvent: playback_started / _finished,
        barge_in_detected, caller_speech, bot_leg_ready, media_failure) until the session closes;
        an unknown event is logged and skipped; a dropped WebSocket yields MediaFailure, then ends."""
        while (event := await self._events.get()) is not None:
            yield event
        self._events.put_nowait(None)  # a later events() ends at once too

    async def caller_audio(self) -> AsyncIterator[bytes]:
        """The caller's audio: 640-byte frames, 20 ms of 16 kHz s16le mono each."""
        while (frame := await self._audio.get()) is not None:
            yield frame
        self._put_audio(None)

    def _put_audio(self, frame: bytes | None) -> None:
        if self._audio.full():
            self._audio.get_nowait()
            if frame is not None:
                self.caller_frames_dropped += 1
        self._audio.put_nowait(frame)

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    self._put_audio(message.data)
                elif message.type is aiohttp.WSMsgType.TEXT:
                    try:
                        self._events.put_nowait(media_event_adapter.validate_json(message.data))
                    except ValidationError as exc:
                        log.warning(
                            "ignoring an unknown media event",
                            extra={**self._log_extra, "error": str(exc)[:200]},
                        )
        finally:
            if not self._closed:
                log.error(
                    "media events WebSocket dropped",
                    extra={**self._log_extra, "close_code": self._ws.close_code},
                )
                self._events.put_nowait(MediaFailure(reason="media-controller connection lost"))
            self._events.put_nowait(None)
            self._put_audio(None)

    async def close(self) -> None:
        """Close the WebSocket and delete the session on the controller (idempotent, never raises).
        The close runs once, in its own task: a caller cancelled meanwhile (the call's end, a
        timeout) stops waiting for it, not the close itself, so the session is never left open."""
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.create_task(self._close(), name=f"media-close-{self.call_id}")
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.client._delete_quietly(self.call_id, self.trace_id, self.base_url)
