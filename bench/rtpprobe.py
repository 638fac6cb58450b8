"""A lean RTP receiver for measurements: records each packet's kernel receive time (SO_TIMESTAMPNS,
so a busy benchmark loop does not blur the figures), sequence number, SSRC and marker bit.

Times are on the time.monotonic() clock (converted from the kernel's CLOCK_REALTIME stamp)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
from dataclasses import dataclass, field

_TIMESPEC = struct.Struct("@qq")
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SCM_TIMESTAMPNS = _SO_TIMESTAMPNS


@dataclass(slots=True)
class Arrival:
    at: float  # monotonic seconds, kernel receive time
    sequence: int
    ssrc: int
    marker: bool


@dataclass
class RtpProbe:
    sock: socket.socket
    port: int
    arrivals: list[Arrival] = field(default_factory=list)
    _offset: float = 0.0  # realtime - monotonic
    _loop: asyncio.AbstractEventLoop | None = None
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @classmethod
    def open(cls) -> RtpProbe:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        probe = cls(sock, sock.getsockname()[1], _offset=time.time() - time.monotonic())
        probe._loop = asyncio.get_running_loop()
        probe._loop.add_reader(sock.fileno(), probe._drain)
        return probe

    def _drain(self) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(2048, 64)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return
            if len(data) < 12 or 192 <= data[1] <= 223:  # RTCP
                continue
            at = time.monotonic()
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == _SCM_TIMESTAMPNS:
                    seconds, nanos = _TIMESPEC.unpack(payload[: _TIMESPEC.size])
                    at = seconds + nanos / 1e9 - self._offset
            sequence, ssrc = struct.unpack_from("!H", data, 2)[0], struct.unpack_from("!I", data, 8)[0]
            self.arrivals.append(Arrival(at, sequence, ssrc, bool(data[1] & 0x80)))
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_packets(self, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while len(self.arrivals) < count:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

    async def wait_quiet(self, quiet: float, within: float) -> None:
        """Until no packet arrived for `quiet` seconds."""
        async with asyncio.timeout(within):
            while True:
                last = self.arrivals[-1].at if self.arrivals else time.monotonic()
                remaining = last + quiet - time.monotonic()
                if remaining <= 0:
                    return
                await asyncio.sleep(remaining)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self._loop = None
        self.sock.close()


def gaps_ms(arrivals: list[Arrival], since: float = 0.0, until: float = float("inf")) -> list[float]:
    """Inter-arrival times (ms) of consecutive packets that both arrived in [since, until]; a gap
    that a marker bit starts (a new playback after a pause) is not counted."""
    inside = [a for a in arrivals if since <= a.at <= until]
    return [(b.at - a.at) * 1000 for a, b in itertools.pairwise(inside) if not b.marker]
