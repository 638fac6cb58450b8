"""The bot producer's RTP stream: one SSRC, continuous sequence numbers, a timestamp that follows
the wall clock across pauses between playbacks (so receivers' jitter buffers stay sane)."""

import asyncio
import random
import time

from media_controller.opus import OPUS_RATE
from media_controller.rtp import build_rtp


class RtpSender:
    def __init__(
        self, transport: asyncio.DatagramTransport, payload_type: int, ssrc: int, clock_rate: int = OPUS_RATE
    ) -> None:
        self.transport = transport
        self.clock_rate = clock_rate
        self.frame_samples = clock_rate // 50  # 20 ms
        self.payload_type = payload_type
        self.ssrc = ssrc
        self.packets_sent = 0
        self._sequence = random.randrange(0x10000)
        self._timestamp = random.randrange(0x1_0000_0000)
        self._last_sent_at: float | None = None

    def send(self, payload: bytes, *, resume: bool = False) -> None:
        """Send one 20 ms frame. `resume`: first packet after a pause (timestamp jumps, marker set)."""
        now = time.monotonic()
        if self._last_sent_at is not None:
            if resume:
                elapsed = max(self.frame_samples, round((now - self._last_sent_at) * self.clock_rate))
                self._timestamp += elapsed
            else:
                self._timestamp += self.frame_samples
        self.transport.sendto(
            build_rtp(self.payload_type, self._sequence, self._timestamp, self.ssrc, payload, marker=resume)
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp &= 0xFFFFFFFF
        self._last_sent_at = now
        self.packets_sent += 1

    def close(self) -> None:
        self.transport.close()
