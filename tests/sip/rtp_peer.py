"""The trunk's RTP side for tests: one UDP socket per call, named in SIPp's SDP offer, that records
the bot's packets and sends the caller's speech from the same address (symmetric RTP)."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import cast

import av
import numpy as np
from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.rtp import opus_packets


def g711(codec: str, pcm16k: bytes) -> list[bytes]:
    """20 ms G.711 payloads (PyAV resamples to 8 kHz and encodes)."""
    encoder = av.CodecContext.create("pcm_mulaw" if codec == "pcmu" else "pcm_alaw", "w")
    encoder.sample_rate, encoder.format, encoder.layout = 8000, "s16", "mono"
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm16k, np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = 16000
    resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
    data = b"".join(bytes(p) for f in resampler.resample(frame) for p in encoder.encode(f))
    return [data[i : i + 160] for i in range(0, len(data) - 159, 160)]


class RtpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []  # (wall-clock time, payload type)
        self.payloads: list[bytes] = []
        self.markers: list[bool] = []  # the media-controller marks the first packet of each stream
        self.first = asyncio.Event()
        self.packet = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None
        self.sequence = 0  # of what this peer sends: one RTP stream, whatever it carries
        self.timestamp = 0

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
            self.markers.append(bool(data[1] & 0x80))
            extension = 4 + 4 * int.from_bytes(data[14:16], "big") if data[0] & 0x10 else 0
            self.payloads.append(data[12 + 4 * (data[0] & 0x0F) + extension :])
            self.first.set()
            self.packet.set()

    async def until_quiet(self, quiet_s: float, timeout: float) -> None:
        """Wait until no packet came for quiet_s (the bot finished speaking)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.arrivals and time.time() - self.arrivals[-1][0] >= quiet_s:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot never went quiet")

    async def next_packet(self) -> None:
        """Wait for the next packet: the bot is speaking right now."""
        self.packet.clear()
        await self.packet.wait()

    async def say_opus(self, to: tuple[str, int], ssrc: int, text: str, payload_type: int = 100) -> float:
        return await self.say("opus", to, ssrc, speech_pcm(text, 16000), payload_type)

    async def say(
        self, codec: str, to: tuple[str, int], ssrc: int, pcm16k: bytes, payload_type: int
    ) -> float:
        """Plain RTP (no header extension), 20 ms pace, from this socket; returns when it began."""
        payloads, step = (opus_packets(pcm16k, 16000), 960) if codec == "opus" else (g711(codec, pcm16k), 160)
        start = time.monotonic()
        began = time.time()
        for n, payload in enumerate(payloads):
            self._send(to, ssrc, payload_type, payload, marker=n == 0)
            self.timestamp += step
            await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))
        return began

    async def press(self, to: tuple[str, int], ssrc: int, digit: str, payload_type: int = 101) -> None:
        """One RFC 4733 key press, as phones send it: 100 ms of event packets (one timestamp, a
        growing duration at 8 kHz), then the end packet three times."""
        event = "0123456789*#ABCD".index(digit)
        start = self.timestamp
        for n in range(1, 6):
            self._send(
                to, ssrc, payload_type, struct.pack("!BBH", event, 10, n * 160), marker=n == 1, ts=start
            )
            await asyncio.sleep(0.02)
        for _ in range(3):
            self._send(to, ssrc, payload_type, struct.pack("!BBH", event, 0x80 | 10, 800), ts=start)
        self.timestamp += 960

    def _send(
        self,
        to: tuple[str, int],
        ssrc: int,
        payload_type: int,
        payload: bytes,
        *,
        marker: bool = False,
        ts: int | None = None,
    ) -> None:
        assert self.transport is not None
        second = payload_type | (0x80 if marker else 0)
        timestamp = self.timestamp if ts is None else ts
        header = struct.pack("!BBHII", 0x80, second, self.sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
        self.sequence += 1
        self.transport.sendto(header + payload, to)

    def pcm(self, codec: str, rate: int = 16000, packets: int | None = None) -> bytes:
        """The bot's audio as received (its first `packets`), decoded (PyAV: libopus or
        pcm_mulaw/pcm_alaw) to s16 mono."""
        name = {"opus": "libopus", "pcmu": "pcm_mulaw", "pcma": "pcm_alaw"}[codec]
        decoder = av.CodecContext.create(name, "r")
        if codec != "opus":
            decoder.sample_rate, decoder.layout = 8000, "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        out = bytearray()
        for payload in self.payloads[:packets]:
            for frame in decoder.decode(av.Packet(payload)):
                for converted in resampler.resample(frame):
                    out += bytes(converted.planes[0])[: converted.samples * 2]
        return bytes(out)

    def streams(self) -> list[int]:
        """Packets per bot stream (a reply, a reprompt), split at the marker bits."""
        counts: list[int] = []
        for marked in self.markers:
            if marked or not counts:
                counts.append(0)
            counts[-1] += 1
        return counts

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
