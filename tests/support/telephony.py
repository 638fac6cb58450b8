"""A SIP trunk's media as a test plays it (docs/media-signalling.md, "A SIP trunk: the symmetric
pattern"): one UDP socket that sends the caller's G.711 RTP (and RFC 4733 key presses) to
mediasoup and receives the bot's, with no header extensions."""

import asyncio
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from media_controller.call_codecs import CODECS
from media_controller.g711 import G711Decoder, G711Encoder
from voicebot_callsim.rtp import opus_packets

Signal = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
_RTP = struct.Struct("!BBHII")
TELEPHONE_EVENT_PT = 101
_AV_CODEC = {"pcmu": "pcm_mulaw", "pcma": "pcm_alaw"}


@dataclass
class Arrived:
    at: float
    sequence: int
    timestamp: int
    ssrc: int
    payload_type: int
    payload: bytes


@dataclass
class SymmetricGateway(asyncio.DatagramProtocol):
    """A trunk's RTP endpoint: one UDP socket that sends the caller's G.711 and receives the bot's."""

    codec: str
    ssrc: int = 0x7E1E_0711
    packets: list[Arrived] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    port: int = 0
    remote: tuple[str, int] = ("127.0.0.1", 0)
    sequence: int = 4000
    timestamp: int = 80000
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(cls, codec: str) -> "SymmetricGateway":
        gateway = cls(codec)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: gateway, local_addr=("127.0.0.1", 0), family=socket.AF_INET
        )
        gateway.transport = transport
        gateway.port = transport.get_extra_info("sockname")[1]
        return gateway

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < 12 or 192 <= data[1] <= 223:
            return
        first, second, sequence, timestamp, ssrc = _RTP.unpack_from(data)
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        self.packets.append(
            Arrived(time.monotonic(), sequence, timestamp, ssrc, second & 0x7F, data[offset:])
        )
        self._arrived.set()

    def _send(
        self, payload_type: int, payload: bytes, *, marker: bool = False, timestamp: int | None = None
    ) -> None:
        assert self.transport is not None
        second = (0x80 if marker else 0) | payload_type
        stamp = self.timestamp if timestamp is None else timestamp
        header = _RTP.pack(0x80, second, self.sequence & 0xFFFF, stamp & 0xFFFFFFFF, self.ssrc)
        self.transport.sendto(header + payload, self.remote)
        self.sequence += 1

    async def send_pcm(self, pcm: bytes, rate: int) -> float:
        """The caller's speech as RTP in the line's codec (G.711, or Opus for a trunk that offers
        it) paced at 20 ms; the time its first packet left."""
        spec = CODECS[self.codec]
        if self.codec == "opus":
            payloads = opus_packets(pcm, rate)
        else:
            encoder = G711Encoder(_AV_CODEC[self.codec], rate)
            payloads = encoder.encode(pcm) + encoder.flush()
        first = time.monotonic()
        for index, payload in enumerate(payloads):
            delay = first + index * 0.020 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(spec.payload_type, payload)
            self.timestamp += spec.frame_samples
        return first

    async def send_silence(self, seconds: float) -> float:
        return await self.send_pcm(bytes(int(8000 * seconds) * 2), 8000)

    async def press(self, code: int, *, duration_ms: int = 120) -> None:
        """An RFC 4733 key press: updates every 20 ms, the end packet three times."""
        start = self.timestamp
        steps = duration_ms // 20
        for step in range(1, steps + 1):
            end = step == steps
            payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, step * 160)
            for _ in range(3 if end else 1):
                self._send(TELEPHONE_EVENT_PT, payload, marker=step == 1, timestamp=start)
            await asyncio.sleep(0.020)
        self.timestamp = start + steps * 160

    def pcm(self, rate: int = 16000) -> bytes:
        decoder = G711Decoder(_AV_CODEC[self.codec], rate)
        return b"".join(decoder.decode(p.payload) for p in self.packets)

    async def wait_packets(self, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while len(self.packets) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_quiet(self, quiet: float, within: float) -> None:
        async with asyncio.timeout(within):
            while True:
                last = self.packets[-1].at if self.packets else time.monotonic()
                if last + quiet <= time.monotonic():
                    return
                self._arrived.clear()
                try:
                    async with asyncio.timeout(last + quiet - time.monotonic()):
                        await self._arrived.wait()
                except TimeoutError:
                    pass

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def caller_rtp_parameters(codec: str, ssrc: int) -> dict[str, Any]:
    """What a SIP gateway produces from the SDP it negotiated: the codec (G.711, or Opus) and
    telephone-event/8000, no header extensions."""
    spec = CODECS[codec]
    return {
        "codecs": [
            spec.rtp_codec(),
            {
                "mimeType": "audio/telephone-event",
                "payloadType": TELEPHONE_EVENT_PT,
                "clockRate": 8000,
                "parameters": {"events": "0-16"},
            },
        ],
        "encodings": [{"ssrc": ssrc}],
    }


async def connect_symmetric(signal: Signal, gateway: SymmetricGateway) -> dict[str, Any]:
    """The symmetric pattern: one transport, connected to the gateway's address (as from SDP);
    `signal` is a mediasoup_request sender (MediaSession.signal, GatewayCall.signal)."""
    created = await signal("createPlainTransport", {"comedia": False})
    gateway.remote = (str(created["ip"]), int(created["port"]))
    await signal(
        "connectPlainTransport",
        {"transport_id": created["transport_id"], "ip": "127.0.0.1", "port": gateway.port},
    )
    await signal(
        "produce",
        {
            "transport_id": created["transport_id"],
            "kind": "audio",
            "rtp_parameters": caller_rtp_parameters(gateway.codec, gateway.ssrc),
        },
    )
    consumed = await signal("consume", {"transport_id": created["transport_id"], "producer_id": "bot"})
    return {"transport_id": created["transport_id"], **consumed}
