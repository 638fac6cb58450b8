"""The media plane dies under live calls: media_failure on every affected call's WebSocket within
1 s, then new calls work again (a replacement worker / a restarted service)."""

import asyncio
import os
import signal
import time
import urllib.request

import pytest
from voicebot_mediaclient import MediaClient, MediaSession, MediaUnavailable
from voicebot_protocol.media import MediaFailure, PlaybackFinished, PlaybackStarted

from tests.support.media import MediaStack, connect_gateway
from tests.support.procs import http_ok, wait_until


async def failure_within(session: MediaSession, within: float) -> MediaFailure:
    async with asyncio.timeout(within):
        async for event in session.events():
            if isinstance(event, MediaFailure):
                return event
    raise AssertionError("events ended without a media_failure")


async def works(client: MediaClient, call_id: str) -> None:
    """A new call gets a session, signalling, and a playback that reaches the gateway."""
    session = await client.open_session(call_id, "e" * 32)
    legs = await connect_gateway(session.signal)
    try:
        await session.start_playback("check", 16000)
        await session.send_pcm(bytes(6400))  # 0.2 s
        await session.end_playback("check")
        seen = []
        async with asyncio.timeout(3):
            async for event in session.events():
                seen.append(type(event))
                if isinstance(event, PlaybackFinished):
                    break
        assert seen == [PlaybackStarted, PlaybackFinished]
        await legs.receiver.wait_packets(10, within=2)
    finally:
        legs.close()
        await session.close()


def log_has(stack: MediaStack, *needles: str) -> bool:
    return any(all(n in line for n in needles) for line in stack.controller.output().splitlines())


async def test_worker_killed_fails_its_calls_within_1s_then_new_calls_work(
    client: MediaClient, stack: MediaStack
) -> None:
    sessions = [await client.open_session(f"doomed-{i}", f"{i + 1:032x}") for i in range(2)]
    legs = await connect_gateway(sessions[0].signal)
    await sessions[0].start_playback("p", 16000)
    await sessions[0].send_pcm(bytes(32000 * 3))
    (worker_pid,) = stack.worker_pids()
    killed_at = time.monotonic()
    os.kill(worker_pid, signal.SIGKILL)
    failures = await asyncio.gather(*(failure_within(s, 1.0) for s in sessions))
    elapsed_ms = (time.monotonic() - killed_at) * 1000
    print(f"\nworker kill -9 → media_failure on {len(failures)} calls in {elapsed_ms:.0f} ms")
    assert all("session_failed" in f.reason or "worker" in f.reason for f in failures)
    with pytest.raises(MediaUnavailable):
        await sessions[0].signal("createPlainTransport", {"comedia": True})
    assert log_has(stack, '"CRITICAL"', "doomed-0", f'"{1:032x}"')
    legs.close()
    for session in sessions:
        await session.close()
    await asyncio.to_thread(
        wait_until, lambda: stack.worker_pids() not in ([], [worker_pid]), 10, "a replacement worker"
    )
    await works(client, "after-worker-death")


async def test_service_lost_fails_every_call_and_reconnects(client: MediaClient, stack: MediaStack) -> None:
    session = await client.open_session("service-lost", "f" * 32)
    killed_at = time.monotonic()
    stack.service.signal(signal.SIGKILL)
    failure = await failure_within(session, 1.0)
    print(
        f"\nservice kill -9 → media_failure in {(time.monotonic() - killed_at) * 1000:.0f} ms: {failure.reason}"
    )
    assert "media_service_lost" in failure.reason
    await session.close()  # DELETE while the service is gone: still 204, nothing hangs
    ready = f"{stack.controller_url}/readyz"
    await asyncio.to_thread(wait_until, lambda: not http_ok(ready), 5, "readyz to fail")
    with pytest.raises(MediaUnavailable):
        await client.open_session("while-down", "f" * 32)
    stack.service.stop()
    await asyncio.to_thread(stack.start_service)
    await asyncio.to_thread(wait_until, lambda: http_ok(ready), 10, "the controller to reconnect")
    await works(client, "after-reconnect")
    with urllib.request.urlopen(f"{stack.controller_url}/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'media_failures_total{reason="media_service_lost"} 1.0' in metrics
