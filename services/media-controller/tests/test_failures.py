"""The media plane dies under live calls: media_failure on every affected call's WebSocket within
1 s, then new calls work again (a replacement worker / a restarted service)."""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from voicebot_mediaclient import MediaClient, MediaSession, MediaUnavailable
from voicebot_protocol.media import BotLegReady, MediaFailure, PlaybackFinished, PlaybackStarted

from tests.support.media import MediaStack, connect_gateway, start_controller
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
        assert seen == [BotLegReady, PlaybackStarted, PlaybackFinished]
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
        await sessions[0].signal("createPlainTransport", {"comedia": False})
    await asyncio.to_thread(
        stack.controller.wait_logged,
        lambda: log_has(stack, '"CRITICAL"', "doomed-0", f'"{1:032x}"'),
        "the CRITICAL line of the failed call, with its trace id",
    )
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
    elapsed_ms = (time.monotonic() - killed_at) * 1000
    print(f"\nservice kill -9 → media_failure in {elapsed_ms:.0f} ms: {failure.reason}")
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
    metrics = await asyncio.to_thread(stack.text, "/metrics")
    assert 'media_failures_total{reason="media_service_lost"} 1.0' in metrics


async def test_client_sees_a_dead_controller_as_media_failure(stack: MediaStack) -> None:
    """A second controller on the same service is killed under a live call: the MediaSession
    yields MediaFailure and ends, sends raise MediaUnavailable, close() does not raise."""
    controller, port = await asyncio.to_thread(
        start_controller, stack.service_port, stack.secret, stack.log_dir, name="media-controller-2"
    )
    client = MediaClient(f"http://127.0.0.1:{port}", secret=stack.api_secret, request_timeout=1.0)
    try:
        session = await client.open_session("controller-dies", "9" * 32)
        audio_ended = asyncio.create_task(drain(session.caller_audio()))
        controller.signal(signal.SIGKILL)
        failure = await failure_within(session, 2.0)
        assert "connection lost" in failure.reason
        async with asyncio.timeout(1):
            assert [event async for event in session.events()] == []  # ended
            await audio_ended
        with pytest.raises(MediaUnavailable):
            await session.start_playback("late", 16000)
        await session.close()
    finally:
        await client.aclose()
        controller.stop()


async def test_sigterm_closes_live_calls_and_exits_promptly(stack: MediaStack) -> None:
    controller, port = await asyncio.to_thread(
        start_controller, stack.service_port, stack.secret, stack.log_dir, name="media-controller-3"
    )
    client = MediaClient(f"http://127.0.0.1:{port}", secret=stack.api_secret)
    try:
        session = await client.open_session("drained", "8" * 32)
        stopped_at = time.monotonic()
        controller.signal(signal.SIGTERM)
        await failure_within(session, 3.0)
        assert controller.popen is not None
        await asyncio.to_thread(controller.popen.wait, 5)
        assert time.monotonic() - stopped_at < 5
        assert "drained" not in {
            s["call_id"] for s in stack.get("/v1/stats")["sessions"]
        }  # closed in the service
        await session.close()
    finally:
        await client.aclose()
        controller.stop()


async def drain(frames: AsyncIterator[bytes]) -> None:
    async for _ in frames:
        pass
