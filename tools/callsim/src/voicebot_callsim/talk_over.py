"""A call on the media plane alone, played the way call-api and a telephony gateway play it, with
audio both ways: the gateway's two legs (legs.py) and its uplink (silence until the caller talks),
the bot's prompt fed as PCM, the caller talking over it until the media-controller reports the
barge-in. For the media-controller's tests and benchmarks (memory, a burst of such calls).

    call = await TalkingCall.open(session)                  # a voicebot_mediaclient MediaSession
    await call.talk_over_the_bot(bot_pcm, 16000, caller_packets, timeout=30)
    await call.close()                                       # the legs, then the session
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

from voicebot_protocol.media import BargeInDetected, MediaEvent, PlaybackStarted

from voicebot_callsim.events import Arrival, EventLog, collect
from voicebot_callsim.legs import GatewayLegs, connect_gateway
from voicebot_callsim.rtp import CallerVoice


class MediaSessionLike(Protocol):
    """What this needs of voicebot_mediaclient.MediaSession."""

    async def signal(self, method: str, data: dict[str, Any]) -> dict[str, Any]: ...
    async def start_playback(self, stream_id: str, sample_rate: int) -> None: ...
    async def send_pcm(self, pcm: bytes) -> None: ...
    async def end_playback(self, stream_id: str) -> None: ...
    def events(self) -> AsyncIterator[MediaEvent]: ...
    async def close(self) -> None: ...


class TalkingCall:
    def __init__(self, session: MediaSessionLike, legs: GatewayLegs) -> None:
        self.session = session
        self.legs = legs
        self.voice = CallerVoice(legs.sender)
        self.events: EventLog[Arrival[MediaEvent]] = EventLog(Arrival)
        self._collector = asyncio.create_task(collect(session.events(), self.events))
        self.voice.start()

    @classmethod
    async def open(cls, session: MediaSessionLike, caller_ssrc: int = 0x5EED_0001) -> TalkingCall:
        return cls(session, await connect_gateway(session.signal, caller_ssrc=caller_ssrc))

    async def talk_over_the_bot(
        self, bot_pcm: bytes, rate: int, caller_packets: list[bytes], timeout: float
    ) -> BargeInDetected:
        """The bot plays `bot_pcm`; once its audio flows the caller says `caller_packets` (Opus);
        returns the controller's barge_in_detected (TimeoutError if none comes within `timeout`)."""
        since = len(self.events)
        stream_id = f"prompt-{uuid.uuid4().hex[:6]}"
        await self.session.start_playback(stream_id, rate)
        await self.session.send_pcm(bot_pcm)
        await self.session.end_playback(stream_id)
        await self.events.wait(lambda a: isinstance(a.event, PlaybackStarted), timeout, since)
        await self.voice.say_packets(caller_packets)
        found = await self.events.wait(lambda a: isinstance(a.event, BargeInDetected), timeout, since)
        assert isinstance(found.event, BargeInDetected)
        return found.event

    async def close(self) -> None:
        await self.voice.stop()
        self.legs.close()
        try:
            await self.session.close()
        finally:
            self._collector.cancel()
            await asyncio.gather(self._collector, return_exceptions=True)
