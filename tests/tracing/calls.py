"""The call the tracing tests place: the e2e booking dialog, with a barge-in."""

import asyncio

from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import GatewayCall
from voicebot_protocol import CloseCode

RATE = 16000


async def booking_call_with_barge_in(call: GatewayCall) -> None:
    """The e2e booking dialog: greeting, "yes please", a barge-in with "wednesday", "morning"."""
    await call.start()
    legs = await call.setup_media()
    await call.wait_event("transcript", 20, role="bot")
    since = len(call.events)
    await call.say(speech_pcm("yes please", RATE), RATE)
    await call.wait_event("play_audio", 20, since)
    # One second of the reply plays: 50 packets of 20 ms heard (a loaded machine may start it late).
    await legs.receiver.wait_packets(len(legs.receiver.packets) + 50, 20)
    await call.say(speech_pcm("wednesday", RATE), RATE)
    await call.wait_event("stop_audio", 15, since)
    await call.events.wait(
        lambda e: e.name == "transcript" and "morning or afternoon" in e.message["payload"]["text"].lower(),
        20,
        since,
    )
    since = len(call.events)
    await call.say(speech_pcm("morning", RATE), RATE)
    ended = await call.wait_event("call_ended", 30, since)
    assert ended.message["code"] == "dialog_completed"
    await asyncio.wait_for(call.closed.wait(), 15)
    assert call.close_code == CloseCode.NORMAL
