"""The player on real UDP (no mediasoup): 20 ms pacing without drift, end, stop, preemption."""

import asyncio
import itertools
from collections.abc import AsyncIterator

import numpy as np
import pytest
from media_controller.playback import Playback, PlaybackState, Player
from media_controller.rtp_sender import RtpSender
from media_controller.udp import open_udp

from tests.support.media import RtpOpusReceiver

RATE = 24000


def tone(seconds: float, rate: int = RATE) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16).tobytes()


class Recorder:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[tuple[str, int, bool]] = []
        self.done = asyncio.Event()

    def on_started(self, playback: Playback) -> None:
        self.started.append(playback.stream_id)

    def on_finished(self, playback: Playback) -> None:
        self.finished.append(
            (playback.stream_id, playback.played_ms, playback.state is PlaybackState.STOPPED)
        )
        self.done.set()


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Player, RtpOpusReceiver, Recorder]]:
    receiver = await RtpOpusReceiver.open()
    udp, _port = await open_udp("127.0.0.1", remote=("127.0.0.1", receiver.port))
    recorder = Recorder()
    player = Player(
        RtpSender(udp, 100, 0x1234),
        bitrate=32000,
        on_started=recorder.on_started,
        on_finished=recorder.on_finished,
    )
    yield player, receiver, recorder
    player.close()
    receiver.close()


async def test_stream_is_paced_at_20ms_without_drift(rig: tuple[Player, RtpOpusReceiver, Recorder]) -> None:
    player, receiver, recorder = rig
    player.start("s1", RATE)
    pcm = tone(2.0)
    for start in range(0, len(pcm), 4800):  # 100 ms pieces, faster than real time
        assert player.feed(pcm[start : start + 4800])
    assert player.end("s1")
    async with asyncio.timeout(5):
        await recorder.done.wait()
    await receiver.wait_packets(recorder.finished[0][1] // 20, within=10)  # the last one is in flight
    packets = receiver.packets
    assert recorder.started == ["s1"]
    assert len(packets) >= 100
    assert recorder.finished == [("s1", len(packets) * 20, False)]
    # Arrival times minus the 20 ms grid: a pacer that drifts (sleep(0.02) per packet) spreads them
    # over the whole stream, one that follows the clock keeps them within a band. The middle 80 %
    # is what is checked: a loaded machine may stall the loop now and then, and the clock catches up.
    offsets = np.array([p.at for p in packets]) - np.arange(len(packets)) * 0.020
    assert np.percentile(offsets, 90) - np.percentile(offsets, 10) < 0.030
    assert np.median(np.diff([p.at for p in packets])) == pytest.approx(0.020, abs=0.003)
    assert [(p.sequence - packets[0].sequence) & 0xFFFF for p in packets] == list(range(len(packets)))
    assert all(b.timestamp - a.timestamp == 960 for a, b in itertools.pairwise(packets))
    assert (
        packets[0].marker
        and {p.ssrc for p in packets} == {0x1234}
        and {p.payload_type for p in packets} == {100}
    )


async def test_stop_is_immediate(rig: tuple[Player, RtpOpusReceiver, Recorder]) -> None:
    player, receiver, recorder = rig
    player.start("s2", RATE)
    player.feed(tone(3.0))
    await receiver.wait_packets(10, within=10)
    stopped = player.stop("s2")
    assert stopped is not None and stopped.state is PlaybackState.STOPPED
    sent = player.sender.packets_sent
    await receiver.wait_packets(sent, within=10)
    await receiver.wait_quiet(0.2, within=10)
    assert player.sender.packets_sent == sent
    assert len(receiver.packets) == sent < 100
    assert recorder.finished == [("s2", sent * 20, True)]
    assert player.stop("s2") is None  # idempotent
    assert not player.feed(tone(0.1))  # nothing open: dropped


async def test_new_stream_preempts_and_timestamps_follow_the_clock(
    rig: tuple[Player, RtpOpusReceiver, Recorder],
) -> None:
    player, receiver, recorder = rig
    player.start("a", RATE)
    player.feed(tone(2.0))
    await receiver.wait_packets(5, within=10)
    player.start("b", RATE)  # preempts "a"
    assert recorder.finished[0][0] == "a" and recorder.finished[0][2] is True
    first_b = player.sender.packets_sent  # some of "a"'s may still be on their way: count what was sent
    player.feed(tone(0.3))
    player.end("b")
    async with asyncio.timeout(10):
        while len(recorder.finished) < 2:
            recorder.done.clear()
            await recorder.done.wait()
    assert recorder.finished[1][:1] == ("b",) and recorder.finished[1][2] is False
    await receiver.wait_packets(player.sender.packets_sent, within=10)
    b_packets = receiver.packets[first_b:]
    assert b_packets[0].marker
    assert len(b_packets) * 20 == recorder.finished[1][1]
