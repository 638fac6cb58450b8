"""A barge-in stops the bot: stop_audio to the client, playback stopped at the controller, then the
TTS/dialog task cancelled; only the words the caller heard stay in the dialog."""

import asyncio

from voicebot_protocol import CallTerminated
from voicebot_protocol.media import BargeInDetected, BotLegReady, CallerSpeech

SECOND = "How can I help you today?"


async def test_barge_in_stops_in_order_and_keeps_what_was_heard(new_call) -> None:
    call = new_call(replies=["Goodbye."])
    call.tts.held[SECOND] = held = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(BotLegReady(transport_id="t", consumer_id="c"))
    await t.wait_for(t.sent("play_audio"))  # the first sentence is playing
    await t.wait_for(t.tts("holding", SECOND))  # the second is being synthesized

    call.media.push(BargeInDetected(onset_ms=1.0, detected_ms=2.0))
    await t.wait_for(lambda e: e[:2] == ("dialog", "record_heard"))

    stop_audio = t.index(t.sent("stop_audio"))
    playback_stop = t.index(t.media("stop_playback"))
    tts_cancelled = t.index(t.tts("cancelled", SECOND))
    assert stop_audio < playback_stop < tts_cancelled
    assert t.client("stop_audio")[0].payload.stream_id == "call-1-1"
    assert call.media.interruptible["call-1-1"], "a reply is opened interruptible: the controller stops it"
    assert ("dialog", "record_heard", "Hello there.") in t.entries
    [interrupted] = t.client("transcript")
    assert interrupted.payload.interrupted and interrupted.payload.text == "Hello there."
    assert not held.is_set()

    await t.wait_for(lambda e: e == ("stt", "open"))  # the caller has the turn
    assert call.orchestrator.turns.state.value == "user_turn"
    call.send(CallTerminated())
    assert await call.result() is None


async def test_a_second_barge_in_on_the_same_stream_does_nothing(new_call) -> None:
    call = new_call(replies=["Goodbye."])
    call.tts.held[SECOND] = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(BotLegReady(transport_id="t", consumer_id="c"))
    await t.wait_for(t.tts("holding", SECOND))
    call.media.push(BargeInDetected(onset_ms=1.0, detected_ms=2.0))
    call.media.push(BargeInDetected(onset_ms=3.0, detected_ms=4.0, source="audio_level"))
    await t.wait_for(lambda e: e == ("stt", "open"))
    assert t.count(t.sent("stop_audio")) == 1
    assert t.count(t.media("stop_playback")) == 1
    call.send(CallTerminated())
    assert await call.result() is None


async def test_the_filler_is_not_cut_by_a_barge_in(new_call) -> None:
    call = new_call()
    call.tts.failures = 1  # the greeting's first attempt fails: the filler plays
    call.media.finish_held = finish = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(BotLegReady(transport_id="t", consumer_id="c"))
    await t.wait_for(t.media("end_playback"))  # the filler is playing, its end not reported yet
    assert (await t.wait_for(t.sent("play_audio")))[1].payload.text == "Sorry, one moment."
    call.media.push(BargeInDetected(onset_ms=1.0, detected_ms=2.0))
    call.media.finish_held = None
    finish.set()
    assert (await call.result()) is not None
    assert not t.client("stop_audio") and not t.count(t.media("stop_playback"))
    assert next(iter(call.media.interruptible.values())) is False, "the filler is not interruptible"
    assert [m.payload.text for m in t.client("transcript")] == ["Hello there. How can I help you today?"]


async def test_the_words_that_interrupted_are_fed_to_stt(new_call) -> None:
    call = new_call(replies=["Goodbye."])
    call.tts.held[SECOND] = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(BotLegReady(transport_id="t", consumer_id="c"))
    await t.wait_for(t.tts("holding", SECOND))
    call.stt.transcripts.append("wait a moment")  # words: a turn (no words would resume the bot)
    interrupting = [bytes([n]) * 640 for n in range(1, 6)]  # 100 ms of the caller, during the bot
    for frame in interrupting:
        call.media.push_audio(frame)
    call.media.push(CallerSpeech(speaking=True, at_ms=1.0))
    call.media.push(BargeInDetected(onset_ms=1.0, detected_ms=2.0))
    await t.wait_for(lambda e: e == ("stt", "open"))
    call.media.push(CallerSpeech(speaking=False, at_ms=500.0))
    await t.wait_for(lambda e: e[:2] == ("dialog", "reply"))
    assert call.stt.fed[: len(interrupting)] == interrupting  # the pre-roll, first
    call.send(CallTerminated())
    assert await call.result() is None
