"""Several media-controllers per node (voicebot_stack.medianode): each with its own mediasoup
service and UDP port range; calls spread over them; one controller killed ends only its own calls
(media_failure), the others keep their audio."""

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from voicebot_callsim.legs import GatewayLegs
from voicebot_mediaclient import MediaClient, MediaSession
from voicebot_protocol.media import MediaFailure, PlaybackFinished
from voicebot_stack.medianode import MediaNode, rtc_ports_of, start_media_node

from tests.support.media import connect_gateway

CALLS = 6
RATE = 16000
WAIT_S = 20.0  # generous: only a broken stack waits this long


def tone(seconds: float) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16).tobytes()


@dataclass
class Call:
    controller: int
    session: MediaSession
    legs: GatewayLegs
    stream_id: str


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaNode]:
    media = start_media_node(tmp_path_factory.mktemp("node"), controllers=2)
    yield media
    media.stop()


@pytest.fixture
async def clients(node: MediaNode) -> AsyncIterator[list[MediaClient]]:
    secret = node.stacks[0].api_secret
    made = [MediaClient(url, secret=secret, request_timeout=10.0) for url in node.controller_urls]
    yield made
    await asyncio.gather(*(client.aclose() for client in made), return_exceptions=True)


async def open_call(clients: list[MediaClient], n: int) -> Call:
    controller = n % len(clients)  # round-robin, as a caller of several controllers would
    session = await clients[controller].open_session(f"per-node-{n}", f"{n:032x}")
    legs = await connect_gateway(session.signal, caller_ssrc=0x5EED_0100 + n)
    stream_id = f"long-{n}"
    await session.start_playback(stream_id, RATE)
    pcm = tone(30.0)  # outlasts the test
    for start in range(0, len(pcm), 32000):
        await session.send_pcm(pcm[start : start + 32000])
    return Call(controller, session, legs, stream_id)


async def next_failure(session: MediaSession) -> MediaFailure:
    async for event in session.events():
        if isinstance(event, MediaFailure):
            return event
    raise AssertionError("events ended without a media_failure")


async def stopped_cleanly(call: Call) -> PlaybackFinished:
    await call.session.stop_playback(call.stream_id)
    async for event in call.session.events():
        assert not isinstance(event, MediaFailure), event
        if isinstance(event, PlaybackFinished):
            return event
    raise AssertionError("events ended without playback_finished")


async def test_calls_spread_and_a_killed_controller_ends_only_its_calls(
    node: MediaNode, clients: list[MediaClient]
) -> None:
    calls = [await open_call(clients, n) for n in range(CALLS)]
    try:
        for call in calls:  # each in its controller's own port range, and playing
            low, high = rtc_ports_of(call.controller)
            assert low <= call.legs.sender.address[1] <= high
            await call.legs.receiver.wait_packets(5, within=WAIT_S)
        node.stacks[0].controller.signal(signal.SIGKILL)
        doomed = [call for call in calls if call.controller == 0]
        survivors = [call for call in calls if call.controller == 1]
        async with asyncio.timeout(WAIT_S):
            failures = await asyncio.gather(*(next_failure(call.session) for call in doomed))
        assert all("connection lost" in failure.reason for failure in failures)
        for call in survivors:  # still playing: more packets arrive after the kill ...
            await call.legs.receiver.wait_packets(len(call.legs.receiver.packets) + 25, within=WAIT_S)
        for call in survivors:  # ... and the session still obeys its commands
            async with asyncio.timeout(WAIT_S):
                finished = await stopped_cleanly(call)
            assert finished.stopped
    finally:
        for call in calls:
            call.legs.close()
        await asyncio.gather(*(call.session.close() for call in calls), return_exceptions=True)
