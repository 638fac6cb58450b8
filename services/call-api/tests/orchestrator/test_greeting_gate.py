"""The greeting waits for the gateway's bot leg (bot_leg_ready), or for media_ready_timeout."""

import asyncio
import logging

import pytest
from voicebot_protocol import EndReason, MediasoupRequest
from voicebot_protocol.client import MediasoupRequestPayload
from voicebot_protocol.media import BotLegReady, CallerSpeech

BOT_LEG_READY = BotLegReady(transport_id="transport-1", consumer_id="consumer-1")


async def test_the_greeting_waits_for_bot_leg_ready(new_call) -> None:
    call = new_call().start()
    t = call.timeline
    # The orchestrator is up and serving the client (a signalling round trip), still not greeting.
    call.send(
        MediasoupRequest(payload=MediasoupRequestPayload(request_id=1, method="getRouterRtpCapabilities"))
    )
    await t.wait_for(t.sent("mediasoup_response"))
    assert not t.count(t.media("start_playback"))

    call.media.push(BOT_LEG_READY)
    await t.wait_for(t.media("start_playback"))
    play_audio = (await t.wait_for(t.sent("play_audio")))[1]
    assert play_audio.payload.stream_id == "call-1-1"
    assert play_audio.payload.text.startswith("Hello there.")  # the text synthesized so far
    assert (await call.result()).reason is EndReason.DIALOG_COMPLETED
    assert [m.payload.text for m in t.client("transcript")] == ["Hello there. How can I help you today?"]


async def test_without_bot_leg_ready_it_greets_after_the_timeout(
    new_call, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    call = new_call(media_ready_timeout=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    call.start()
    await call.timeline.wait_for(call.timeline.media("start_playback"))
    assert loop.time() - started >= 0.05
    assert "greeting anyway" in caplog.text
    assert (await call.result()).reason is EndReason.DIALOG_COMPLETED


async def test_a_whole_dialog(new_call) -> None:
    # A long silence timeout: the caller's turn must end on the VAD's end of speech.
    call = new_call(replies=["Goodbye."], silence_timeout=30.0)
    call.stt.transcripts.append("yes please")
    call.start()
    t = call.timeline
    call.media.push(BOT_LEG_READY)
    await t.wait_for(lambda e: e == ("stt", "open"))
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    call.media.push(CallerSpeech(speaking=False, at_ms=1500.0))
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert ("dialog", "reply", "yes please") in t.entries
    transcripts = [(m.payload.role, m.payload.text) for m in t.client("transcript")]
    assert transcripts == [
        ("bot", "Hello there. How can I help you today?"),
        ("caller", "yes please"),
        ("bot", "Goodbye."),
    ]
    # Each bot stream is opened, fed and ended in order, one at a time.
    streams = [e[2] for e in t.entries if t.media("start_playback")(e)]
    assert streams == ["call-1-1", "call-1-2"]
    assert [e[2] for e in t.entries if t.media("end_playback")(e)] == streams
