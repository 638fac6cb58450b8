"""A failed provider step plays the filler and is retried; N failures in a row end the call."""

import asyncio

from voicebot_protocol import EndReason
from voicebot_protocol.media import BotLegReady

READY = BotLegReady(transport_id="t", consumer_id="c")


def fillers(call) -> list[str]:
    return [
        e[2] for e in call.timeline.entries if call.timeline.media("start_playback")(e) and "-filler-" in e[2]
    ]


async def test_a_tts_failure_plays_the_filler_then_the_reply_is_retried(new_call) -> None:
    call = new_call()
    call.tts.failures = 1
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert len(fillers(call)) == 1
    t = call.timeline
    # The filler, then the greeting from its start (play_audio carries the text synthesized so far).
    texts = [m.payload.text for m in t.client("play_audio")]
    assert texts[0] == "Sorry, one moment." and texts[1].startswith("Hello there.")
    assert len(texts) == 2
    assert [m.payload.text for m in t.client("transcript")] == ["Hello there. How can I help you today?"]


async def test_the_call_ends_after_n_failures_in_a_row(new_call) -> None:
    call = new_call(provider_attempts=3)
    call.tts.failures = 100
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None
    assert (result.reason, result.message) == (EndReason.PROVIDER_FAILURE, "tts unavailable")
    assert len(fillers(call)) == 3
    assert not call.timeline.client("transcript")


async def test_a_hung_tts_is_a_tts_failure(new_call) -> None:
    call = new_call(provider_attempts=2, provider_timeout=0.05)
    call.tts.held["Hello there."] = asyncio.Event()  # never set
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None
    assert (result.reason, result.message) == (EndReason.PROVIDER_FAILURE, "tts unavailable")
    assert len(fillers(call)) == 2


async def test_stt_failures_end_the_call_too(new_call) -> None:
    call = new_call(replies=["Goodbye."], provider_attempts=2)
    call.stt.failures = 100
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None
    assert (result.reason, result.message) == (EndReason.PROVIDER_FAILURE, "stt unavailable")
    assert len(fillers(call)) == 2
    assert call.timeline.count(lambda e: e == ("stt", "open")) == 2


async def test_a_success_resets_the_count(new_call) -> None:
    # 1 TTS failure, the greeting plays, then 2 STT failures: 3 in all, but never 3 in a row.
    call = new_call(replies=["Goodbye."], provider_attempts=3)
    call.tts.failures = 1
    call.stt.failures = 2
    call.start()
    call.media.push(READY)
    result = await call.result()
    assert result is not None and result.reason is EndReason.DIALOG_COMPLETED
    assert len(fillers(call)) == 3
