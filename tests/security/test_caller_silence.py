"""Through the whole back end: a gateway that sets up its media legs but never sends the caller's
RTP (a dead uplink) has its call ended by the caller-silence limit: call_ended caller_silence,
close 1000; the bot's audio plays meanwhile (the limit is about the caller's RTP, not the bot's)."""

import uuid

from voicebot_callsim.call import GatewayCall
from voicebot_callsim.legs import connect_gateway
from voicebot_protocol import CloseCode, EndReason

from tests.security.conftest import CALLER_SILENCE_SECONDS
from tests.support.fullstack import FullStack


async def test_a_call_without_caller_rtp_ends_at_the_silence_limit(guarded_stack: FullStack) -> None:
    call = GatewayCall(guarded_stack.call_api.ws_url, f"mute-{uuid.uuid4().hex[:8]}")
    await call.start()
    try:
        call.legs = await connect_gateway(call.signal)  # both legs, but no caller RTP at all
        await call.wait_event("play_audio", 20)  # the bot greets all the same
        ended = await call.wait_event("call_ended", 30)
        assert ended.message["code"] == EndReason.CALLER_SILENCE
        assert ended.message["reason"] == f"no caller audio for {CALLER_SILENCE_SECONDS:g} s"
        await call.closed.wait()
        assert call.close_code == CloseCode.NORMAL
    finally:
        await call.aclose()
