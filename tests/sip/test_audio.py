"""Audio through the SIP gateway, SIPp placing the call and this test's socket being the trunk's
RTP address: the whole greeting arrives there in the negotiated codec and is recognised
(pocketsphinx hears the contact's name in the decoded audio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sip.peer_call import CODECS, FRAME_MS, json_records, peer_call, wait_packets, wait_record
from tests.sip.recognise import heard_name
from tests.sip.support import SipGateway
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway

pytestmark = pytest.mark.stack
NAME, OTHERS = "Ann", ("bob", "maria")  # the contact's name and two it must not be taken for


@pytest.mark.parametrize("codec", list(CODECS))
async def test_the_greeting_arrives_at_the_offer_address_and_is_recognised(
    sip_stack: tuple[FullStack, NginxGateway, SipGateway], tmp_path: Path, codec: str
) -> None:
    stack, _, gateway = sip_stack
    async with peer_call(gateway, tmp_path, codec, caller_name=NAME, customer_id="audio") as call:
        # The whole greeting, by events: the bot's transcript comes once its playback finished,
        # and the media-controller says how many packets that playback sent.
        greeting = (await call.transcript("bot", "the bot's greeting", interrupted=False))["text"]
        played = await wait_record(
            lambda: call.of_call(json_records(stack.media.controller)),
            lambda r: r.get("message") == "playback finished",
            "the greeting's playback_finished",
        )
        assert played["stopped"] is False
        packets = played["played_ms"] // FRAME_MS
        await wait_packets(call.peer, packets, "the greeting")
        assert {pt for _, pt in call.peer.arrivals} == {call.payload_type}
        assert NAME in greeting
        # The greeting's own words, the name's slot open among three names (tests/sip/recognise.py).
        heard = await heard_name(call.peer.pcm(codec, packets=packets), greeting, NAME, OTHERS)
        assert heard == NAME.lower(), f"heard {heard!r} where the greeting says {NAME!r}"
