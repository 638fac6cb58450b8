"""The Gunicorn-worker row: a worker dies (kill -9 stands in for an unhandled crash) → gunicorn
restarts it, the system keeps working, only the calls of that worker drop."""

import asyncio
import json
import os
import signal
import time
import urllib.request

from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import GatewayCall

from tests.chaos.harness import RATE, ChaosStack, ended, new_call, wait_for
from tests.chaos.report import Row

CALLS_PER_WORKER = 2


async def _connect(stack: ChaosStack, calls: list[GatewayCall], on: dict[str, int]) -> None:
    call = new_call(stack, f"gunicorn{len(calls)}-")
    calls.append(call)
    await call.start()
    on[call.call_id] = await stack.call_api.worker_of_call(call.call_id)


async def _calls_on_both_workers(stack: ChaosStack) -> tuple[list[GatewayCall], dict[str, int]]:
    """Four calls, on both workers. Which worker accepts a connection is the kernel's choice and far
    from even (one idle worker can win ten in a row), so if the first pair landed on one worker,
    that worker is paused (SIGSTOP) while the other accepts the second pair."""
    calls: list[GatewayCall] = []
    on: dict[str, int] = {}
    try:
        for _ in range(CALLS_PER_WORKER):
            await _connect(stack, calls, on)
        paused = set(on.values()) if len(set(on.values())) == 1 else set()
        for worker in paused:
            os.kill(worker, signal.SIGSTOP)
        try:
            while len(calls) < 2 * CALLS_PER_WORKER:
                await _connect(stack, calls, on)
        finally:
            for worker in paused:
                os.kill(worker, signal.SIGCONT)
        await asyncio.gather(*(c.setup_media() for c in calls))
        await asyncio.gather(*(c.wait_event("transcript", 20, role="bot") for c in calls))
    except BaseException:
        await asyncio.gather(*(c.terminate(timeout=3) for c in calls), return_exceptions=True)
        raise
    return calls, on


async def test_gunicorn_worker_killed_during_live_calls(stack: ChaosStack, row: Row) -> None:
    row.fault = "a gunicorn worker killed (SIGKILL) during live dialog calls"
    row.promise = "only that worker's calls drop; other calls go on; gunicorn restarts it; new calls work"
    calls, on = await _calls_on_both_workers(stack)
    try:
        victim = on[calls[0].call_id]
        dropped = [c for c in calls if on[c.call_id] == victim]
        survivors = [c for c in calls if on[c.call_id] != victim]

        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        fresh = new_call(stack, "gunicorn-new-")
        await fresh.start(open_timeout=20)
        calls.append(fresh)
        new_call_s = fresh.accepted_at - killed_at
        # Taken at once, by the surviving worker: its log line names it (gunicorn's replacement
        # needs seconds to start; a clock here would measure the machine's load, not the promise).
        fresh_on = await stack.call_api.worker_of_call(fresh.call_id, 20)

        async with asyncio.timeout(10):
            await asyncio.gather(*(c.closed.wait() for c in dropped))
        # The others' dialog goes on: each caller speaks and gets a reply.
        stack.new_reply()
        speech = speech_pcm("yes please", RATE)
        speech_s = len(speech) / 2 / RATE
        marks = [len(c.events) for c in survivors]
        onsets = await asyncio.gather(*(c.say(speech, RATE) for c in survivors))
        replies = await asyncio.gather(
            *(c.wait_event("transcript", 15, m, role="bot") for c, m in zip(survivors, marks, strict=True))
        )
        reply_s = [r.at - onset - speech_s for r, onset in zip(replies, onsets, strict=True)]
        await fresh.wait_event("transcript", 20, role="bot")  # the new call is greeted
        still_open = [c for c in survivors if not c.closed.is_set() and ended(c) is None]
        await wait_for(lambda: stack.call_api.ready_workers() == stack.call_api.workers, 30, "a new worker")
        restarted_s = time.monotonic() - killed_at
    finally:
        await asyncio.gather(*(c.terminate(timeout=3) for c in calls), return_exceptions=True)

    await wait_for(lambda: _media_sessions(stack) == 0, 10, "the media sessions of every call to close")
    for call in dropped:
        assert call.close_code == 1006, call.close_code  # the process died: no close frame
        assert ended(call) is None
    assert still_open == survivors
    assert victim not in stack.call_api.worker_pids()
    row.measure(
        f"{len(calls) - 1} calls on 2 workers; {len(dropped)} on the killed one dropped (1006), "
        f"{len(survivors)} others untouched: each answered {min(reply_s):.1f}–{max(reply_s):.1f}s after "
        "its caller spoke (after the kill)"
    )
    row.measure(
        f"new call accepted {new_call_s * 1000:.0f} ms after the kill (and greeted); "
        f"gunicorn had a new worker ready in {restarted_s:.1f}s"
    )
    row.measure("media sessions of the dropped calls closed by the media-controller (0 left)")
    assert fresh_on in set(on.values()) - {victim}, (fresh_on, victim, on)


def _media_sessions(stack: ChaosStack) -> int:
    with urllib.request.urlopen(f"{stack.media.controller_url}/readyz", timeout=2) as resp:
        return int(json.loads(resp.read())["sessions"])
