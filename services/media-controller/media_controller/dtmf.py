"""RFC 4733 DTMF in RTP: the telephone-event payload and a detector that reports each key press
once.

A sender sends one event as a run of packets with the same RTP timestamp (the event's start) and
a growing duration; the last one has the E (end) bit and is usually sent three times. A digit is
reported at its first end packet; the repeats (same timestamp) are ignored. If every end packet is
lost, the digit is reported when the next event starts or the caller's audio resumes."""

import struct
from collections import deque
from dataclasses import dataclass

DIGITS = "0123456789*#ABCD"  # events 0..15; the others (flash, tones) are not digits
_PAYLOAD = struct.Struct("!BBH")
_REMEMBERED = 16  # timestamps of reported events kept, to drop their late repeats


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int  # -dBm0, 0..63
    duration: int  # in RTP timestamp units


@dataclass(frozen=True, slots=True)
class DigitPressed:
    digit: str
    duration_ms: int


def parse_telephone_event(payload: bytes) -> TelephoneEvent | None:
    """The first event of a telephone-event payload; None if the payload is too short."""
    if len(payload) < _PAYLOAD.size:
        return None
    event, flags, duration = _PAYLOAD.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


@dataclass
class _Current:
    timestamp: int
    event: int
    duration: int


class DtmfDetector:
    def __init__(self, clock_rate: int = 8000) -> None:
        self.clock_rate = clock_rate
        self._current: _Current | None = None
        self._reported: deque[int] = deque(maxlen=_REMEMBERED)

    def feed(self, timestamp: int, payload: bytes) -> list[DigitPressed]:
        """One telephone-event packet (in sequence order); the digits it completes."""
        parsed = parse_telephone_event(payload)
        if parsed is None or parsed.event >= len(DIGITS) or timestamp in self._reported:
            return []
        pressed: list[DigitPressed] = []
        if self._current is not None and self._current.timestamp != timestamp:
            pressed += self.audio_resumed()  # the previous event's end packets were all lost
        if self._current is None:
            self._current = _Current(timestamp, parsed.event, parsed.duration)
        self._current.duration = max(self._current.duration, parsed.duration)
        if parsed.end:
            pressed += self._report()
        return pressed

    def audio_resumed(self) -> list[DigitPressed]:
        """Audio after an event that never ended: the event is over."""
        return self._report() if self._current is not None else []

    def _report(self) -> list[DigitPressed]:
        current, self._current = self._current, None
        assert current is not None
        self._reported.append(current.timestamp)
        duration_ms = round(current.duration * 1000 / self.clock_rate)
        return [DigitPressed(DIGITS[current.event], duration_ms)]
