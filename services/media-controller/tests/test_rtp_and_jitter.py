"""RTP header handling and the reorder buffer (pure functions: no processes needed)."""

import struct

from media_controller.jitter import ReorderBuffer
from media_controller.rtp import build_rtp, is_rtcp, parse_rtp


def test_rtp_round_trip_with_wrap() -> None:
    raw = build_rtp(100, 0x1_0005, 0x1_0000_0007, 0xDEADBEEF, b"opus", marker=True)
    packet = parse_rtp(raw)
    assert packet is not None
    fields = (
        packet.payload_type,
        packet.sequence,
        packet.timestamp,
        packet.ssrc,
        packet.marker,
        packet.payload,
    )
    assert fields == (100, 5, 7, 0xDEADBEEF, True, b"opus")


def test_rtp_parses_csrc_extension_and_padding() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 100, 1, 2, 3)
    csrc = b"\x00\x00\x00\x09"
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xff\x00\x00"  # one-byte ssrc-audio-level
    packet = parse_rtp(header + csrc + extension + b"payload" + b"\x00\x00\x03")
    assert packet is not None and packet.payload == b"payload"


def test_rtp_rejects_garbage_and_rtcp() -> None:
    assert parse_rtp(b"") is None
    assert parse_rtp(b"\x00" * 11) is None
    assert parse_rtp(b"\x40" + b"\x00" * 20) is None  # version 1
    rtcp = struct.pack("!BBH", 0x80, 200, 6) + bytes(24)
    assert is_rtcp(rtcp) and parse_rtp(rtcp) is None
    truncated_extension = struct.pack("!BBHII", 0x90, 100, 1, 2, 3) + struct.pack("!HH", 0xBEDE, 50)
    assert parse_rtp(truncated_extension) is None


def test_in_order_packets_pass_straight_through() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(depth=3)
    assert [buffer.push(seq, seq) for seq in (10, 11, 12)] == [[10], [11], [12]]
    assert buffer.lost == 0


def test_reordered_packet_is_put_back_in_place() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(depth=3)
    out = [*buffer.push(1, 1), *buffer.push(3, 3), *buffer.push(2, 2), *buffer.push(4, 4)]
    assert out == [1, 2, 3, 4]


def test_loss_is_skipped_after_depth_packets() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(depth=2)
    out = [*buffer.push(1, 1), *buffer.push(3, 3), *buffer.push(4, 4)]
    assert out == [1]  # still waiting for 2
    out += buffer.push(5, 5)  # three held > depth: give up on 2
    assert out == [1, 3, 4, 5] and buffer.lost == 1
    assert buffer.push(2, 2) == [] and buffer.dropped_late == 1  # too late now


def test_sequence_wraps_and_duplicates_are_dropped() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(depth=3)
    out = [
        *buffer.push(65534, 1),
        *buffer.push(65535, 2),
        *buffer.push(0, 3),
        *buffer.push(0, 99),
        *buffer.push(1, 4),
    ]
    assert out == [1, 2, 3, 4] and buffer.dropped_late == 1


def test_flush_releases_held_packets_and_restart_resyncs() -> None:
    buffer: ReorderBuffer[int] = ReorderBuffer(depth=5)
    buffer.push(100, 100)
    buffer.push(103, 103)
    assert buffer.flush() == [103] and buffer.lost == 2
    assert buffer.push(40000, 1) == [1]  # a jump this large is a new stream, not 40k lost packets
    assert buffer.push(40001, 2) == [2]
