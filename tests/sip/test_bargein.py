"""The caller's speech over SIP, as plain RTP without the audio-level extension (what trunks send):
talking over the bot stops the bot's RTP at the offer's address, and the speech is understood (a
caller transcript of that call). How fast it stops is a benchmark figure (bench/sip.py,
`bargein_to_last_bot_packet_pcmu`), not an assertion here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from voicebot_callsim.audio import speech_pcm

from tests.sip.peer_call import FRAME_MS, json_records, peer_call, wait_record
from tests.sip.support import SipGateway
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("codec", ["opus", "pcmu"])
async def test_talking_over_the_bot_stops_its_rtp_and_is_understood(
    sip_stack: tuple[FullStack, NginxGateway, SipGateway], tmp_path: Path, codec: str
) -> None:
    stack, _, gateway = sip_stack
    async with peer_call(gateway, tmp_path, codec, customer_id="b") as call:
        await asyncio.wait_for(call.peer.first.wait(), 30)  # the greeting has begun: talk over it
        await call.peer.say(
            codec, call.media_at, call.ssrc, speech_pcm("yes please", 16000), call.payload_type
        )
        # The greeting was cut: the bot's transcript of it is what was heard, marked interrupted,
        # and the media plane stopped its playback (not played out).
        await call.transcript("bot", "the interrupted greeting", interrupted=True)
        greeting = await wait_record(
            lambda: call.of_call(json_records(stack.media.controller)),
            lambda r: r.get("message") == "playback finished",
            "the greeting's playback_finished",
        )
        assert greeting["stopped"] is True
        # What reached the trunk is what the media plane played, nothing after the stop: the
        # greeting's stream (up to the next stream's marker) has exactly that many packets.
        await call.transcript("caller", "the caller's speech to be understood")
        await call.transcript("bot", "the bot's reply", interrupted=False)  # played out: its marker came
        assert call.peer.streams()[0] == greeting["played_ms"] // FRAME_MS
