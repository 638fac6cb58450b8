"""The bot's RTP sender on real UDP: its packets byte for byte (sequence, timestamp, SSRC, marker,
across their wraps), and a packet the socket refuses dropped and counted, never stopping a stream
or the pacing clock's pass for the others."""

import asyncio
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest
from media_controller import metrics
from media_controller.pacing import PacingClock
from media_controller.playback import Playback, PlaybackState, Player
from media_controller.rtp import HEADER, build_rtp
from media_controller.rtp_sender import RtpSender
from media_controller.shared_encoding import SharedEncoding
from media_controller.udp import open_udp

from tests.support.media import RtpOpusReceiver

RATE = 16000


@pytest.fixture
def sink() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def closed_port() -> int:
    """A loopback port nobody listens on (sends there come back as ICMP port unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def received(sock: socket.socket, count: int) -> list[bytes]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        return [await loop.sock_recv(sock, 2048) for _ in range(count)]


def errors_counted() -> float:
    return metrics.BOT_RTP_SEND_ERRORS._value.get()


async def test_packets_are_byte_for_byte_rtp_across_sequence_and_timestamp_wraps(sink: socket.socket) -> None:
    udp, _ = await open_udp("127.0.0.1", remote=sink.getsockname())
    sender = RtpSender(udp, 111, 0xDEADBEEF, 48000)
    sender._sequence, sender._timestamp = 0xFFFE, 0xFFFF_FC00  # both about to wrap
    try:
        payloads = [bytes([n]) * (20 + n) for n in range(5)]
        sender.send(payloads[0], resume=True)  # the stream's first packet: marker set
        for payload in payloads[1:3]:
            sender.send(payload)
        before_last = time.monotonic()
        sender.send(payloads[3])
        after_last = time.monotonic()
        await asyncio.sleep(0.05)  # a pause between playbacks: the timestamp follows the clock
        before_resumed = time.monotonic()
        sender.send(payloads[4], resume=True)
        after_resumed = time.monotonic()
        got = await received(sink, 5)
    finally:
        sender.close()
    expected = [
        build_rtp(111, 0xFFFE, 0xFFFF_FC00, 0xDEADBEEF, payloads[0], marker=True),
        build_rtp(111, 0xFFFF, 0xFFFF_FFC0, 0xDEADBEEF, payloads[1]),
        build_rtp(111, 0x0000, 0x0000_0380, 0xDEADBEEF, payloads[2]),
        build_rtp(111, 0x0001, 0x0000_0740, 0xDEADBEEF, payloads[3]),
    ]
    assert got[:4] == expected
    resumed_at = HEADER.unpack_from(got[4])[3]
    assert got[4] == build_rtp(111, 0x0002, resumed_at, 0xDEADBEEF, payloads[4], marker=True)
    # The jump is the time between the two sends, at 48 kHz (bracketed by the times around them).
    jump, rate = resumed_at - 0x740, 48000
    assert round((before_resumed - after_last) * rate) <= jump <= round((after_resumed - before_last) * rate)
    assert sender.packets_sent == 5 and sender.send_errors == 0


async def test_a_refused_packet_is_dropped_and_counted_and_the_stream_goes_on() -> None:
    udp, _ = await open_udp("127.0.0.1", remote=("127.0.0.1", closed_port()))
    sender = RtpSender(udp, 111, 0x1234, 48000)
    before = errors_counted()
    try:
        # Back to back, no turn of the loop in between (its reader would take the ICMP error
        # first): the socket refuses the packet after the first one came back unreachable.
        for _ in range(200):
            sender.send(b"\x01" * 40)
            if sender.send_errors:
                break
        sequence = sender._sequence
        sender.send(b"\x02" * 40)
    finally:
        sender.close()
    assert sender.send_errors >= 1
    assert errors_counted() - before == sender.send_errors
    assert sender._sequence == (sequence + 1) & 0xFFFF  # a refused packet still takes its number


def tone(seconds: float) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16).tobytes()


async def test_one_stream_s_send_errors_stop_neither_it_nor_the_others() -> None:
    clock = PacingClock(asyncio.get_running_loop())
    encoding = SharedEncoding()
    receiver = await RtpOpusReceiver.open()
    finished: list[Playback] = []
    all_done = asyncio.Event()
    players: list[Player] = []

    def on_finished(playback: Playback) -> None:
        finished.append(playback)
        if len(finished) == 3:
            all_done.set()

    def refuse(packet: bytes) -> int:
        raise ConnectionRefusedError("the peer went away")

    before = errors_counted()
    try:
        for n in range(3):
            udp, _ = await open_udp("127.0.0.1", remote=("127.0.0.1", receiver.port))
            player = Player(
                RtpSender(udp, 100, 0x2000 + n),
                bitrate=32000,
                on_started=lambda playback: None,
                on_finished=on_finished,
                clock=clock,
                encoding=encoding,
            )
            players.append(player)
        players[1].sender._send = refuse  # every packet of the middle stream is refused
        for n, player in enumerate(players):
            player.start(f"s{n}", RATE)
            player.feed(tone(0.4))
            player.end(f"s{n}")
        async with asyncio.timeout(20):
            await all_done.wait()
        assert {p.state for p in finished} == {PlaybackState.FINISHED}  # none failed or stopped
        counts = {p.stream_id: p.packets_sent for p in finished}
        assert len(set(counts.values())) == 1, counts  # the refused stream kept its pace to the end
        refused = players[1].sender
        assert refused.send_errors == refused.packets_sent == counts["s1"]
        assert errors_counted() - before == refused.send_errors
        await receiver.wait_packets(counts["s0"] + counts["s2"], within=10)
        assert {p.ssrc for p in receiver.packets} == {0x2000, 0x2002}
    finally:
        for player in players:
            player.close()
        receiver.close()
