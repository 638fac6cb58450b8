"""RTP (RFC 3550) fixed header: just what an Opus audio stream needs."""

import struct
from typing import NamedTuple

HEADER = struct.Struct("!BBHII")
RTP_VERSION = 2


class RtpPacket(NamedTuple):  # a tuple: half the cost of a frozen dataclass, once per caller packet
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def is_rtcp(datagram: bytes) -> bool:
    """RFC 5761 demultiplexing: RTCP packet types 192-223 sit where RTP has marker+PT."""
    return len(datagram) >= 2 and 192 <= datagram[1] <= 223


def build_rtp(
    payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False
) -> bytes:
    first = RTP_VERSION << 6
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    return HEADER.pack(first, second, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + payload


def parse_rtp(datagram: bytes) -> RtpPacket | None:
    """None for anything that is not a well-formed RTP packet (never raises on bad input)."""
    if len(datagram) < HEADER.size or is_rtcp(datagram):
        return None
    first, second, sequence, timestamp, ssrc = HEADER.unpack_from(datagram)
    if first >> 6 != RTP_VERSION:
        return None
    offset = HEADER.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in 32-bit words
        if len(datagram) < offset + 4:
            return None
        (words,) = struct.unpack_from("!H", datagram, offset + 2)
        offset += 4 + 4 * words
    end = len(datagram)
    if first & 0x20:  # padding: the last byte says how much
        end -= datagram[-1]
    if offset > end:
        return None
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, bool(second & 0x80), datagram[offset:end])
