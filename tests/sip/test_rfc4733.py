"""RFC 4733 keys in the trunk's RTP (telephone-event at 8 kHz, on a G.711 line and beside Opus)
drive the dialog as a SIP INFO digit does: "2" declines the appointment, the bot says goodbye and
hangs up with BYE. The gateway never sees these digits: the media plane detects them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.sip.peer_call import json_records, peer_call, wait_record
from tests.sip.support import SipGateway
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("codec", ["pcmu", "opus"])
async def test_an_rfc4733_key_drives_the_dialog_and_the_bot_hangs_up(
    sip_stack: tuple[FullStack, NginxGateway, SipGateway], tmp_path: Path, codec: str
) -> None:
    stack, _, gateway = sip_stack
    async with peer_call(gateway, tmp_path, codec, customer_id="keys") as call:
        await asyncio.wait_for(call.peer.first.wait(), 30)
        # A phone's stream: audio (silence) first, then the key (mediasoup opens the stream on audio).
        await call.peer.say(codec, call.media_at, call.ssrc, bytes(6400), call.payload_type)
        await call.peer.press(call.media_at, call.ssrc, "2")
        await wait_record(
            lambda: call.of_call(gateway.records("transcript")),
            lambda r: r.get("role") == "bot" and "No problem" in r.get("text", ""),
            "the bot's goodbye (the decline intent)",
        )
        ended = await wait_record(lambda: call.of_call(gateway.records("bot_bye")), lambda r: True, "the BYE")
        assert ended["code"] == "dialog_completed"
        await wait_record(
            lambda: call.of_call(json_records(stack.media.controller)),
            lambda r: r["message"] == "dtmf digit",
            "the media plane's log of the digit",
        )
        digits = [
            r for r in call.of_call(json_records(stack.media.controller)) if r["message"] == "dtmf digit"
        ]
        assert [r.get("digit") for r in digits] == ["2"]  # one press, reported once
        assert not call.of_call(gateway.records("dtmf"))  # not relayed by the gateway
