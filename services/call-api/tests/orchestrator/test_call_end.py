"""How a call ends: the client (call_terminated, or gone) during the greeting, a media failure, a
bug. Nothing of the call keeps running afterwards."""

import asyncio

from voicebot_protocol import CallTerminated, EndReason
from voicebot_protocol.media import BotLegReady, MediaFailure

SECOND = "How can I help you today?"
READY = BotLegReady(transport_id="t", consumer_id="c")


async def test_call_terminated_during_the_greeting(new_call) -> None:
    call = new_call()
    call.tts.held[SECOND] = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(READY)
    await t.wait_for(t.tts("holding", SECOND))
    call.send(CallTerminated())
    assert await call.result() is None
    assert ("media", "stop_playback", "call-1-1") in t.entries
    assert ("tts", "cancelled", SECOND) in t.entries
    assert not t.client("stop_audio")  # the client ended it: nothing to tell it
    assert call.orchestrator.turns.state.value == "ended"
    assert call.orchestrator.speaker.current is None


async def test_the_client_gone_during_the_greeting(new_call) -> None:
    call = new_call()
    call.tts.held[SECOND] = asyncio.Event()
    call.start()
    call.media.push(READY)
    await call.timeline.wait_for(call.timeline.tts("holding", SECOND))
    call.send(None)  # the client's messages end: it disconnected
    assert await call.result() is None
    assert call.timeline.count(call.timeline.media("stop_playback")) == 1


async def test_a_media_failure_ends_the_call(new_call) -> None:
    call = new_call()
    call.tts.held[SECOND] = asyncio.Event()
    call.start()
    call.media.push(READY)
    await call.timeline.wait_for(call.timeline.tts("holding", SECOND))
    call.media.push(MediaFailure(reason="worker died"))
    result = await call.result()
    assert result is not None
    assert (result.reason, result.message) == (EndReason.MEDIA_FAILURE, "media failure: worker died")


async def test_a_failed_media_command_is_a_media_failure(new_call) -> None:
    call = new_call()
    call.media.unavailable = True
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None and result.reason is EndReason.MEDIA_FAILURE


async def test_a_bug_in_a_task_is_an_internal_error(new_call) -> None:
    call = new_call()

    async def broken() -> None:
        raise RuntimeError("a bug")
        yield ""  # an async generator

    call.dialog.greeting = broken
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None and result.reason is EndReason.INTERNAL_ERROR
