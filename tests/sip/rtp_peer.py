"""The trunk's RTP side for tests: one UDP socket per call, named in SIPp's SDP offer, that records
the bot's packets and sends the caller's speech from the same address (symmetric RTP)."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import cast

import av
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.rtp import opus_packets


class RtpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []  # (wall-clock time, payload type)
        self.payloads: list[bytes] = []
        self.first = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls) -> RtpPeer:
        _, peer = await asyncio.get_running_loop().create_datagram_endpoint(cls, local_addr=("127.0.0.1", 0))
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12 and not 200 <= data[1] <= 206:  # RTP only: RTCP shares the port (rtcp-mux)
            self.arrivals.append((time.time(), data[1] & 0x7F))
            extension = 4 + 4 * int.from_bytes(data[14:16], "big") if data[0] & 0x10 else 0
            self.payloads.append(data[12 + 4 * (data[0] & 0x0F) + extension :])
            self.first.set()

    async def until_quiet(self, quiet_s: float, timeout: float) -> None:
        """Wait until no packet came for quiet_s (the bot finished speaking)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.arrivals and time.time() - self.arrivals[-1][0] >= quiet_s:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot never went quiet")

    async def say_opus(self, to: tuple[str, int], ssrc: int, text: str, payload_type: int = 100) -> None:
        assert self.transport is not None
        start = time.monotonic()
        for n, payload in enumerate(opus_packets(speech_pcm(text, 16000), 16000)):
            header = struct.pack("!BBHII", 0x80, payload_type | (0x80 if n == 0 else 0), n, n * 960, ssrc)
            self.transport.sendto(header + payload, to)
            await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))

    def pcm(self, codec: str, rate: int = 16000) -> bytes:
        """The bot's audio as received, decoded (PyAV: libopus or pcm_mulaw/pcm_alaw) to s16 mono."""
        name = {"opus": "libopus", "pcmu": "pcm_mulaw", "pcma": "pcm_alaw"}[codec]
        decoder = av.CodecContext.create(name, "r")
        if codec != "opus":
            decoder.sample_rate, decoder.layout = 8000, "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        out = bytearray()
        for payload in self.payloads:
            for frame in decoder.decode(av.Packet(payload)):
                for converted in resampler.resample(frame):
                    out += bytes(converted.planes[0])[: converted.samples * 2]
        return bytes(out)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
