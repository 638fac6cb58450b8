"""Whole calls through the real back end — call-api + the Orchestrator on gunicorn, the
media-controller, a mediasoup worker, Redis — placed by a gateway client (callsim) with RTP on
real UDP. Nothing is faked: the bot speaks with Piper (the default voice), the caller is understood
by pocketsphinx with the dialog's grammar — and, in a second stack, by Whisper (free speech)."""

import asyncio
import contextlib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
import redis
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import GatewayCall
from voicebot_protocol import CloseCode
from voicebot_stack.credentials import scoped_call_id

from tests.support.fullstack import FullStack, start_full_stack
from tests.support.procs import wait_until
from tests.support.speech import FRAME, RATE, transcribe

SECOND_OF_PACKETS = 50  # the bot's RTP: one packet per 20 ms


def bot_texts(call: GatewayCall) -> list[dict]:
    return [
        e.message["payload"]
        for e in call.events
        if e.name == "transcript" and e.message["payload"]["role"] == "bot"
    ]


@pytest.fixture(scope="module")
def whisper_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    running = start_full_stack(
        tmp_path_factory.mktemp("e2e-whisper"), call_api_env={"CALL_API_STT_PROVIDER": "whisper"}
    )
    yield running
    running.stop()


async def test_booking_call_with_a_barge_in(stack: FullStack) -> None:
    await booking_call_with_a_barge_in(stack)


async def test_booking_call_with_a_barge_in_heard_by_whisper(whisper_stack: FullStack) -> None:
    await booking_call_with_a_barge_in(whisper_stack)


async def booking_call_with_a_barge_in(stack: FullStack) -> None:
    call = GatewayCall(stack.call_api.ws_url, f"e2e-{uuid.uuid4().hex[:8]}", {"contact_name": "Ann"})
    await call.start()
    legs = await call.setup_media()
    try:
        # The greeting arrives as RTP; pocketsphinx, told the greeting could name Ann, Bob or Maria,
        # hears Ann in the decoded audio.
        greeting = await call.wait_event("transcript", 20, role="bot")
        assert "Ann" in greeting.message["payload"]["text"]
        play = await call.wait_event("play_audio", 20)
        assert play.message["payload"]["codec"] == "opus"
        assert play.message["payload"]["rtp_port"] == legs.receiver.port
        # The whole greeting: a loaded machine may stall the pacer for a few hundred ms mid-sentence;
        # nothing else is sent until the caller answers.
        await legs.receiver.wait_quiet(1.5, 20)
        template = greeting.message["payload"]["text"].replace("Ann", "{}").rstrip("?.")
        heard = await transcribe(
            legs.receiver.pcm(RATE), [template.format(n) for n in ("ann", "bob", "maria")]
        )
        assert "ann" in heard.split(), heard

        # The caller accepts; the right reply comes back. The caller talks over it: stop_audio
        # arrives, the bot's RTP stops, and only what was heard stays in the transcript.
        since = len(call.events)
        await call.say(speech_pcm("yes please", RATE), RATE)
        play = await call.wait_event("play_audio", 20, since)
        assert "which day" in play.message["payload"]["text"].lower()
        packets_before = len(legs.receiver.packets)
        # Let one second of it play: 50 packets of 20 ms heard (not a clock's second: a loaded
        # machine may start the reply's RTP late).
        await legs.receiver.wait_packets(packets_before + SECOND_OF_PACKETS, 20)
        onset = await call.say(speech_pcm("wednesday", RATE), RATE)
        stop = await call.wait_event("stop_audio", 15, since)
        assert stop.message["payload"]["stream_id"] == play.message["payload"]["stream_id"]
        await legs.receiver.wait_quiet(0.3, 15)
        last_bot_packet = legs.receiver.packets[-1].at
        # The reply had seconds left: a bot that kept talking would send for that long. How soon it
        # stops is `make bench`'s figure (call.barge_in), not something a loaded machine can assert.
        assert last_bot_packet - stop.at < 1.0, "bot audio kept flowing after stop_audio"
        assert len(legs.receiver.packets) > packets_before
        print(f"barge-in: stop_audio {1000 * (stop.at - onset):.0f} ms after onset")
        interrupted = await call.wait_event("transcript", 10, since, role="bot", interrupted=True)
        cut = interrupted.message["payload"]["text"]
        assert cut and len(cut) < len("Which day suits you, Monday, Wednesday or Friday?"), cut

        # What the caller said over the bot was understood: the dialog moves on to the time of day.
        after_stop = call.events.index(stop)
        caller = await call.wait_event("transcript", 20, after_stop, role="caller")
        assert "wednesday" in caller.message["payload"]["text"].lower()  # Whisper writes "Wednesday."
        await call.events.wait(
            lambda e: any("morning or afternoon" in t["text"].lower() for t in bot_texts(call)), 20
        )

        since = len(call.events)
        await call.say(speech_pcm("morning", RATE), RATE)
        ended = await call.wait_event("call_ended", 30, since)
        assert ended.message["code"] == "dialog_completed"
        assert any("booked for wednesday morning" in t["text"].lower() for t in bot_texts(call))
        await asyncio.wait_for(call.closed.wait(), 15)
        assert call.close_code == CloseCode.NORMAL
    finally:
        await call.aclose()


async def test_call_terminated_leaves_nothing_behind(stack: FullStack) -> None:
    call_id = f"e2e-{uuid.uuid4().hex[:8]}"
    call = GatewayCall(stack.call_api.ws_url, call_id, {"contact_name": "Bob"})
    await call.start()
    await call.setup_media()
    await call.wait_event("play_audio", 20)
    await call.terminate()

    media_call_id = scoped_call_id(call_id)  # the media plane names it within the gateway's namespace

    def media_objects_left() -> list[dict]:
        sessions = stack.media.get("/v1/stats")["sessions"]
        return [s for s in sessions if s["call_id"] == media_call_id]

    def redis_keys_left() -> list[bytes]:
        return redis.Redis.from_url(stack.redis.url).keys(f"*{call_id}*")

    with contextlib.suppress(TimeoutError):
        await asyncio.to_thread(
            wait_until, lambda: not media_objects_left() and not redis_keys_left(), 20, "the call's cleanup"
        )
    assert media_objects_left() == []
    assert redis_keys_left() == []
    try:
        stack.media.get(f"/v1/sessions/{media_call_id}/stats")
        raise AssertionError("the media-controller still knows the call")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


async def test_a_cough_like_burst_does_not_interrupt_the_bot(stack: FullStack) -> None:
    """The false-barge-in guard: a loud voiced burst of 40 ms (a click, a cough onset), under the
    VAD onset rule of 80 ms of continuous voice above the energy floor, leaves the bot talking; the
    greeting plays to its end."""
    call = GatewayCall(stack.call_api.ws_url, f"e2e-{uuid.uuid4().hex[:8]}", {"contact_name": "Maria"})
    await call.start()
    legs = await call.setup_media()
    try:
        await call.wait_event("play_audio", 20)
        voiced = speech_pcm("ha", RATE)
        loud_start = next(
            i
            for i in range(0, len(voiced), 2)
            if abs(int.from_bytes(voiced[i : i + 2], "little", signed=True)) > 3000
        )
        burst = voiced[loud_start - loud_start % 2 : loud_start - loud_start % 2 + FRAME * 2]  # 40 ms
        await legs.receiver.wait_packets(SECOND_OF_PACKETS, 20)  # a second of the greeting heard
        await call.say(burst, RATE)
        greeting = await call.wait_event("transcript", 20, role="bot")
        assert not greeting.message["payload"]["interrupted"]
        assert not [e for e in call.events if e.name == "stop_audio"]
    finally:
        await call.terminate()


async def test_call_terminated_right_after_acceptance_ends_the_call_at_once(stack: FullStack) -> None:
    call = GatewayCall(stack.call_api.ws_url, f"e2e-{uuid.uuid4().hex[:8]}", {"contact_name": "Ann"})
    await call.start()
    await call.send({"event": "call_terminated"})
    await asyncio.wait_for(call.closed.wait(), 3)
    assert call.close_code == CloseCode.NORMAL
    await call.aclose()
