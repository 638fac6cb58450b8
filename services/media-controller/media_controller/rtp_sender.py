"""The bot producer's RTP stream: one SSRC, continuous sequence numbers, a timestamp that follows
the wall clock across pauses between playbacks (so receivers' jitter buffers stay sane).

Packets go out with the socket's own `send`, not the asyncio transport's `sendto`: the pacing
clock sends every stream's packet in one pass, and the transport's checks and buffering cost a
sizeable share of each packet for nothing here (a UDP socket takes a datagram or drops it; a
packet that waited in a buffer for the socket to be writable would be late anyway)."""

import asyncio
import random
import socket
import time

from media_controller import metrics
from media_controller.opus import OPUS_RATE
from media_controller.rtp import HEADER, RTP_VERSION


class RtpSender:
    def __init__(
        self, transport: asyncio.DatagramTransport, payload_type: int, ssrc: int, clock_rate: int = OPUS_RATE
    ) -> None:
        if transport.get_extra_info("peername") is None:
            raise ValueError("the bot's RTP socket must be connected to the transport it feeds")
        self.transport = transport
        # A duplicate of the transport's socket (the same one underneath: the transport still
        # reads and discards what comes back, RTCP), so that sending bypasses the transport.
        self._socket: socket.socket = transport.get_extra_info("socket").dup()
        self._send = self._socket.send
        self.clock_rate = clock_rate
        self.frame_samples = clock_rate // 50  # 20 ms
        self.payload_type = payload_type
        self.ssrc = ssrc & 0xFFFFFFFF
        self._first_byte = RTP_VERSION << 6
        self._second_byte = payload_type & 0x7F
        self._pack = HEADER.pack
        self.packets_sent = 0
        self.send_errors = 0  # packets the socket refused (full buffer, peer gone): dropped
        self._sequence = random.randrange(0x10000)
        self._timestamp = random.randrange(0x1_0000_0000)
        self._last_sent_at: float | None = None

    def send(self, payload: bytes, *, resume: bool = False) -> None:
        """Send one 20 ms frame. `resume`: first packet after a pause (timestamp jumps, marker set).
        Never raises for the network: a packet the socket refuses is dropped (and counted), the
        stream goes on (one stream's trouble must not stop the clock's pass for the others)."""
        now = time.monotonic()
        second = self._second_byte
        if self._last_sent_at is not None:
            if resume:
                elapsed = max(self.frame_samples, round((now - self._last_sent_at) * self.clock_rate))
                self._timestamp = (self._timestamp + elapsed) & 0xFFFFFFFF
            else:
                self._timestamp = (self._timestamp + self.frame_samples) & 0xFFFFFFFF
        if resume:
            second |= 0x80
        packet = self._pack(self._first_byte, second, self._sequence, self._timestamp, self.ssrc) + payload
        try:
            self._send(packet)
        except OSError:  # BlockingIOError (buffer full), ConnectionRefusedError (an ICMP error), ...
            self.send_errors += 1
            metrics.BOT_RTP_SEND_ERRORS.inc()
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._last_sent_at = now
        self.packets_sent += 1

    def close(self) -> None:
        self._socket.close()
        self.transport.close()
