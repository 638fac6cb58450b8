"""Resume after a false interruption: a barge-in stops the bot as before; a backchannel or no words
after it makes the bot say the rest of the cut utterance on a new stream (not from the start);
real words make a turn. The dialog's context keeps what the caller heard."""

import asyncio

import pytest
from voicebot_protocol import CallTerminated
from voicebot_protocol.media import BargeInDetected, BotLegReady, CallerSpeech

FIRST, SECOND = "Hello there.", "How can I help you today?"


async def interrupt_during_second_sentence(call) -> asyncio.Event:  # type: ignore[no-untyped-def]
    """The greeting's first sentence plays, the second is being synthesized: a barge-in stops it."""
    call.tts.held[SECOND] = held = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(BotLegReady(transport_id="t", consumer_id="c"))
    await t.wait_for(t.tts("holding", SECOND), timeout=10)
    call.media.push(BargeInDetected(onset_ms=1.0, detected_ms=2.0))
    await t.wait_for(lambda e: e == ("dialog", "record_heard", FIRST), timeout=10)
    await t.wait_for(lambda e: e == ("stt", "open"), timeout=10)
    return held


def play_audio_texts(call) -> list[str | None]:  # type: ignore[no-untyped-def]
    return [m.payload.text for m in call.timeline.client("play_audio")]


# "yes": a grammar STT's "yeah" (pocketsphinx hears espeak's and Piper's "yeah" as "yes"); the
# question it could answer had not begun when the bot stopped.
@pytest.mark.parametrize("backchannel", ["mm-hmm", "yeah", "yes"])
async def test_a_backchannel_resumes_the_cut_utterance_not_from_the_start(new_call, backchannel) -> None:
    call = new_call(replies=["Goodbye."])
    call.stt.transcripts.append(backchannel)
    held = await interrupt_during_second_sentence(call)
    t = call.timeline
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    call.media.push(CallerSpeech(speaking=False, at_ms=1400.0))  # 400 ms: a backchannel's length
    held.set()
    await t.wait_for(lambda e: e == ("dialog", "record_heard", f"{FIRST} {SECOND}"), timeout=10)

    assert play_audio_texts(call) == [FIRST, SECOND], "the rest on a new stream, without the first sentence"
    streams = [m.payload.stream_id for m in t.client("play_audio")]
    assert streams[0] != streams[1]
    assert not t.count(lambda e: e[:2] == ("dialog", "reply")), "a backchannel is not a turn"
    call.send(CallTerminated())
    await call.result(timeout=10)


async def test_real_words_after_a_stop_make_a_turn(new_call) -> None:
    call = new_call(replies=["Sure, which date?"])
    call.stt.transcripts.append("wait I need to change the date")
    held = await interrupt_during_second_sentence(call)
    t = call.timeline
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    call.media.push(CallerSpeech(speaking=False, at_ms=2500.0))
    held.set()
    await t.wait_for(lambda e: e == ("dialog", "reply", "wait I need to change the date"), timeout=10)
    assert (await call.result(timeout=10)) is not None  # the reply played, the dialog finished
    assert play_audio_texts(call) == [FIRST, "Sure, which date?"], "no resumption"
    assert ("dialog", "record_heard", FIRST) in t.entries
    assert not t.count(lambda e: e[:2] == ("dialog", "record_heard") and SECOND in e[2])


async def test_silence_after_a_stop_resumes(new_call) -> None:
    call = new_call(replies=["Goodbye."], resume_silence_ms=50)
    held = await interrupt_during_second_sentence(call)  # no caller speech follows the stop
    held.set()
    t = call.timeline
    await t.wait_for(lambda e: e == ("dialog", "record_heard", f"{FIRST} {SECOND}"), timeout=10)
    assert play_audio_texts(call)[:2] == [FIRST, SECOND]
    call.send(CallTerminated())
    await call.result(timeout=10)


async def test_a_long_utterance_of_backchannel_words_is_a_turn(new_call) -> None:
    call = new_call(replies=["Alright."])
    call.stt.transcripts.append("yeah")
    held = await interrupt_during_second_sentence(call)
    t = call.timeline
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    call.media.push(CallerSpeech(speaking=False, at_ms=3000.0))  # 2 s: longer than a backchannel
    held.set()
    await t.wait_for(lambda e: e == ("dialog", "reply", "yeah"), timeout=10)
    assert (await call.result(timeout=10)) is not None
    assert play_audio_texts(call) == [FIRST, "Alright."]


async def test_resuming_can_be_turned_off(new_call) -> None:
    call = new_call(replies=["Alright."], resume_after_false_stop=False)
    call.stt.transcripts.append("mm-hmm")
    held = await interrupt_during_second_sentence(call)
    t = call.timeline
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    call.media.push(CallerSpeech(speaking=False, at_ms=1300.0))
    held.set()
    await t.wait_for(lambda e: e == ("dialog", "reply", "mm-hmm"), timeout=10)
    assert (await call.result(timeout=10)) is not None


async def test_a_backchannel_over_before_the_listening_began_resumes_without_the_silence_wait(
    new_call,
) -> None:
    """The "uh-huh" that stopped the bot ended while the stop was handled: it is still the caller's
    utterance (not silence until `resume_silence_ms`, here longer than the test's waits)."""
    call = new_call(replies=["Goodbye."], resume_silence_ms=60_000)
    call.stt.transcripts.append("uh-huh")
    call.tts.held[SECOND] = held = asyncio.Event()
    call.start()
    t = call.timeline
    call.media.push(BotLegReady(transport_id="t", consumer_id="c"))
    await t.wait_for(t.tts("holding", SECOND), timeout=10)
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    call.media.push(BargeInDetected(onset_ms=1000.0, detected_ms=1080.0))
    call.media.push(CallerSpeech(speaking=False, at_ms=1400.0))  # before the stop's playback_finished
    held.set()
    await t.wait_for(lambda e: e == ("dialog", "record_heard", f"{FIRST} {SECOND}"), timeout=10)
    assert play_audio_texts(call) == [FIRST, SECOND]
    assert not t.count(lambda e: e[:2] == ("dialog", "reply"))
    call.send(CallTerminated())
    await call.result(timeout=10)


def syntheses(call, sentence: str) -> int:  # type: ignore[no-untyped-def]
    return call.timeline.count(call.timeline.tts("holding", sentence))  # held: every synthesis logs


async def test_the_rest_is_synthesized_while_the_caller_is_heard_not_after(new_call) -> None:
    call = new_call(replies=["Goodbye."])
    call.stt.transcripts.append("mm-hmm")
    held = await interrupt_during_second_sentence(call)
    t = call.timeline
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    # the caller is still speaking: the rest's first sentence is being synthesized already
    await t.wait_for(lambda e: syntheses(call, SECOND) == 2, timeout=10)
    held.set()
    call.media.push(CallerSpeech(speaking=False, at_ms=1400.0))
    await t.wait_for(lambda e: e == ("dialog", "record_heard", f"{FIRST} {SECOND}"), timeout=10)
    assert play_audio_texts(call) == [FIRST, SECOND]
    assert syntheses(call, SECOND) == 2, "the resumption used the audio made ahead"
    call.send(CallTerminated())
    await call.result(timeout=10)


async def test_a_turn_after_the_stop_stops_the_synthesis_made_ahead(new_call) -> None:
    call = new_call(replies=["Sure, which date?"])
    call.stt.transcripts.append("wait I need to change the date")
    await interrupt_during_second_sentence(call)  # SECOND stays held: the synthesis ahead waits
    t = call.timeline
    call.media.push(CallerSpeech(speaking=True, at_ms=1000.0))
    await t.wait_for(lambda e: syntheses(call, SECOND) == 2, timeout=10)
    call.media.push(CallerSpeech(speaking=False, at_ms=2500.0))
    await t.wait_for(lambda e: e == ("dialog", "reply", "wait I need to change the date"), timeout=10)
    assert (await call.result(timeout=10)) is not None
    assert t.count(t.tts("cancelled", SECOND)) == 2, "the cut synthesis and the one made ahead"
    assert play_audio_texts(call) == [FIRST, "Sure, which date?"]
