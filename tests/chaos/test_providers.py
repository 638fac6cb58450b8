"""The TTS / LLM / STT rows: an external API unavailable.

At call start (TTS): the factory raises → exactly `call_failed "TTS unavailable"` + close 4503.
Mid-call: the Orchestrator plays the pre-recorded filler from the cache (`static:technical_issue`),
logs the error, retries, and after CALL_API_PROVIDER_ATTEMPTS failures ends the call with
`call_ended provider_failure` (close 4504). Every fault hits 2 concurrent calls (3 in the full form)."""

import asyncio
import time

import pytest
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import CallRefused

from tests.chaos.harness import (
    ATTEMPTS,
    RATE,
    ChaosStack,
    filler_plays,
    heard_filler,
    live_calls,
    new_call,
    wait_ended,
    wait_for,
)
from tests.chaos.report import Row

FULL = pytest.mark.chaos_full
MIN_FILLER_R = 0.8  # envelope correlation of the decoded bot RTP with the cached filler clip


# --- TTS unreachable when a call starts ---------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        "503",  # the reachability check (GET /models) answers 503
        "down",  # nothing listens: connection refused
        pytest.param("hang", marks=FULL),  # the check never answers: CALL_API_TTS_CHECK_TIMEOUT
    ],
)
async def test_tts_unreachable_at_call_start(stack: ChaosStack, row: Row, fault: str) -> None:
    row.fault = f"TTS unreachable at call start ({fault}), 3 calls"
    row.promise = (
        'factory raises; client gets {"event":"call_failed","reason":"TTS unavailable"}; socket closed'
    )
    if fault == "down":
        stack.openai.down()
    else:
        stack.openai.server.modes["models"] = fault
    calls = [new_call(stack, f"tts-start-{fault}{i}") for i in range(3)]
    t0 = time.monotonic()

    async def refused(call: object) -> tuple[dict[str, object], float]:
        with pytest.raises(CallRefused) as refusal:
            await call.start()  # type: ignore[attr-defined]
        return refusal.value.message, time.monotonic() - t0

    try:
        results = await asyncio.gather(*(refused(c) for c in calls))
        for call in calls:
            async with asyncio.timeout(5):
                await call.closed.wait()
    finally:
        await asyncio.gather(*(c.aclose() for c in calls), return_exceptions=True)
    for (message, _), call in zip(results, calls, strict=True):
        assert message == {"event": "call_failed", "reason": "TTS unavailable", "code": "tts_unavailable"}
        assert call.close_code == 4503
        assert [e.name for e in call.events] == ["call_failed"]
    slowest = max(t for _, t in results)
    row.measure(
        f"3/3 got exactly call_failed 'TTS unavailable' (tts_unavailable), close 4503; slowest {slowest:.2f}s"
    )


# --- mid-call: TTS, LLM, STT --------------------------------------------------------------------


async def _provider_fails_mid_call(
    stack: ChaosStack, row: Row, provider: str, endpoint: str, mode: str, calls_count: int
) -> None:
    fake = stack.deepgram if provider == "stt" else stack.openai
    # STT: the fault goes in while the greeting plays, so the first utterance's session fails.
    async with live_calls(stack, calls_count, f"{provider}-{mode}-", greeted=provider != "stt") as calls:
        before = fake.server.hits[endpoint]
        fake.server.modes[endpoint] = mode
        t0 = time.monotonic()
        if provider == "stt":
            await asyncio.gather(*(c.wait_event("transcript", 20, role="bot") for c in calls))
        else:  # a new reply (a text not in the TTS cache) needs the caller to speak
            stack.new_reply()
            speech = speech_pcm("I would like an appointment", RATE)
            await asyncio.gather(*(c.say(speech, RATE) for c in calls))
        budget = 10 + ATTEMPTS * (4 + 2 * 1.5 + 2)
        ends = await asyncio.gather(*(wait_ended(c, budget) for c in calls))
        took = time.monotonic() - t0
        requests = fake.server.hits[endpoint] - before
        fake.server.modes.clear()  # the fault ends here, before any assertion

    for call, end in zip(calls, ends, strict=True):
        assert end.message == {
            "event": "call_ended",
            "reason": f"{provider} unavailable",
            "code": "provider_failure",
        }, end.message
        assert call.close_code == 4504
        assert len(filler_plays(call)) == ATTEMPTS
        errors = await stack.wait_records("provider failed", call.trace_id or "", "ERROR", ATTEMPTS)
        assert [r["failures"] for r in errors] == list(range(1, ATTEMPTS + 1))
        assert all(r["provider"] == provider for r in errors)
    heard = [heard_filler(stack, c) for c in calls]
    for h in heard:
        assert h.filler_r >= MIN_FILLER_R, heard
        assert h.filler_r - h.unrelated_r >= 0.15, heard
    assert requests == calls_count * ATTEMPTS, requests
    row.measure(
        f"{calls_count}/{calls_count} calls: filler played {ATTEMPTS}× each, heard at the gateway "
        f"(r={min(h.filler_r for h in heard):.2f}..{max(h.filler_r for h in heard):.2f} vs an unplayed "
        f"phrase {max(h.unrelated_r for h in heard):.2f})"
    )
    row.measure(
        f"{requests} requests at the fake {endpoint} endpoint ({ATTEMPTS} attempts per call); "
        f"ERROR 'provider failed' ×{ATTEMPTS} with each call's trace id"
    )
    row.measure(f"call_ended provider_failure + close 4504 for all, {took:.1f}s after the fault")
    # Every call's end releases its media: the controller holds no session of the ended calls.
    await wait_for(lambda: stack.media_sessions_active() == 0, 10, "the media sessions closed")
    row.measure("media sessions open at the controller after the calls ended: 0")


TTS_MODES = ["500", pytest.param("hang", marks=FULL), pytest.param("die_midway", marks=FULL),
             pytest.param("hang_midway", marks=FULL)]  # fmt: skip


@pytest.mark.parametrize("mode", TTS_MODES)
async def test_tts_fails_mid_call(
    stack: ChaosStack, row: Row, mode: str, request: pytest.FixtureRequest
) -> None:
    row.fault = f"TTS fails mid-call: /audio/speech {mode}"
    row.promise = "filler from the cache played, error logged, retried, then call ended"
    await _provider_fails_mid_call(stack, row, "tts", "speech", mode, _count(request))


LLM_MODES = ["die_midway", pytest.param("500", marks=FULL), pytest.param("hang", marks=FULL),
             pytest.param("hang_midway", marks=FULL)]  # fmt: skip


@pytest.mark.parametrize("mode", LLM_MODES)
async def test_llm_fails_mid_call(
    stack: ChaosStack, row: Row, mode: str, request: pytest.FixtureRequest
) -> None:
    row.fault = f"LLM fails mid-call: chat/completions {mode}"
    row.promise = "filler from the cache played, error logged, retried, then call ended"
    await _provider_fails_mid_call(stack, row, "llm", "chat", mode, _count(request))


STT_MODES = ["500", pytest.param("error_close", marks=FULL), pytest.param("die_midway", marks=FULL),
             pytest.param("hang", marks=FULL)]  # fmt: skip


@pytest.mark.parametrize("mode", STT_MODES)
async def test_stt_fails_mid_call(
    stack: ChaosStack, row: Row, mode: str, request: pytest.FixtureRequest
) -> None:
    row.fault = f"STT fails mid-call: Deepgram /v1/listen {mode}"
    row.promise = "filler from the cache played, error logged, retried, then call ended"
    await _provider_fails_mid_call(stack, row, "stt", "listen", mode, _count(request))


def _count(request: pytest.FixtureRequest) -> int:
    return 3 if request.config.getoption("--chaos-full") else 2


# --- Redis and TTS both down --------------------------------------------------------------------


async def test_filler_plays_with_redis_and_tts_down(stack: ChaosStack, row: Row) -> None:
    row.fault = "Redis down AND TTS failing, 2 calls"
    row.promise = "the filler still plays (the worker's in-memory copy); calls go on, then end as configured"
    async with live_calls(stack, 2, "redis-tts-") as calls:
        stack.redis.stop()
        try:
            stack.openai.server.modes["speech"] = "500"
            stack.new_reply()
            speech = speech_pcm("I would like an appointment", RATE)
            await asyncio.gather(*(c.say(speech, RATE) for c in calls))
            ends = await asyncio.gather(*(wait_ended(c, 40) for c in calls))
        finally:
            stack.openai.server.modes.clear()
            stack.restart_redis()
    for call, end in zip(calls, ends, strict=True):
        assert end.message["code"] == "provider_failure"
        assert len(filler_plays(call)) == ATTEMPTS
    heard = [heard_filler(stack, c) for c in calls]
    assert all(h.filler_r >= MIN_FILLER_R for h in heard), heard
    row.measure(
        f"Redis stopped: filler heard in 2/2 calls (r={min(h.filler_r for h in heard):.2f}), "
        f"{ATTEMPTS} plays each, then provider_failure"
    )
