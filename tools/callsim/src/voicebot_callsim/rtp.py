"""The gateway's RTP: Opus packets paced at 20 ms, and a UDP receiver that records (and decodes Opus)."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Self

import av
import numpy as np

OPUS_PT = 100
_RTP = struct.Struct("!BBHII")


AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
AUDIO_LEVEL_EXT_ID = 1


def caller_rtp_parameters(
    ssrc: int, payload_type: int = OPUS_PT, *, audio_level: bool = False
) -> dict[str, Any]:
    """The `produce` rtp_parameters of a gateway sending Opus RTP with this SSRC (and, with
    audio_level, the RFC 6464 header extension mediasoup's AudioLevelObserver reads)."""
    parameters: dict[str, Any] = {
        "codecs": [
            {
                "mimeType": "audio/opus",
                "payloadType": payload_type,
                "clockRate": 48000,
                "channels": 2,
                "parameters": {"sprop-stereo": 0},
            }
        ],
        "encodings": [{"ssrc": ssrc}],
    }
    if audio_level:
        parameters["headerExtensions"] = [{"uri": AUDIO_LEVEL_URI, "id": AUDIO_LEVEL_EXT_ID}]
    return parameters


def opus_packets(pcm: bytes, rate: int) -> list[bytes]:
    """PCM s16le mono → 20 ms Opus packets at 48 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = rate
    samples = np.concatenate(
        [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    ).astype(np.int16)
    samples = np.concatenate([samples, np.zeros((-len(samples)) % 960, dtype=np.int16)])
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32000
    encoder.open()
    packets: list[bytes] = []
    for start in range(0, len(samples), 960):
        chunk = av.AudioFrame.from_ndarray(
            samples[start : start + 960].reshape(1, -1), format="s16", layout="mono"
        )
        chunk.sample_rate = 48000
        chunk.pts = start
        packets += [bytes(p) for p in encoder.encode(chunk)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


class RtpOpusSender:
    """Sends Opus RTP to (host, port) paced at 20 ms on a monotonic schedule."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        *,
        ssrc: int = 0x5EED_0001,
        payload_type: int = OPUS_PT,
        bind_host: str = "127.0.0.1",
    ):
        self.address = (host, port)
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.sequence = 1000
        self.timestamp = 0
        self.sent_at: list[float] = []  # monotonic time of every packet sent
        self.audio_level: int | None = None  # set: every packet claims this level (-dBov, 0..127)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((bind_host, 0))

    @property
    def local_port(self) -> int:
        """Where the packets come from: what the gateway connects its caller leg to."""
        return int(self._sock.getsockname()[1])

    async def send_pcm(self, pcm: bytes, rate: int, *, realtime: bool = True) -> float:
        """Send the audio; returns the monotonic time its first packet left."""
        return await self.send_packets(opus_packets(pcm, rate), realtime=realtime)

    async def send_silence(self, seconds: float) -> float:
        return await self.send_pcm(bytes(int(16000 * seconds) * 2), 16000)

    async def send_packets(
        self, packets: list[bytes], *, realtime: bool = True, order: list[int] | None = None
    ) -> float:
        """`order`: the indexes of `packets` in the order they go out (to test reordering and loss);
        sequence numbers and timestamps stay those of the index."""
        first = time.monotonic()
        base_sequence, base_timestamp = self.sequence, self.timestamp
        for slot, index in enumerate(order if order is not None else range(len(packets))):
            if realtime:
                delay = first + slot * 0.020 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.sequence, self.timestamp = base_sequence + index, base_timestamp + 960 * index
            self._sock.sendto(self._header() + packets[index], self.address)
            self.sent_at.append(time.monotonic())
        self.sequence, self.timestamp = base_sequence + len(packets), base_timestamp + 960 * len(packets)
        return first

    def _header(self) -> bytes:
        extended = self.audio_level is not None
        header = _RTP.pack(
            0x90 if extended else 0x80,
            self.payload_type,
            self.sequence & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc,
        )
        if self.audio_level is not None:  # one-byte header extension (RFC 8285), voice activity bit set
            header += struct.pack("!HHBBxx", 0xBEDE, 1, AUDIO_LEVEL_EXT_ID << 4, 0x80 | self.audio_level)
        return header

    def close(self) -> None:
        self._sock.close()


@dataclass
class ReceivedPacket:
    at: float  # monotonic
    sequence: int
    timestamp: int
    ssrc: int
    payload_type: int
    marker: bool
    payload: bytes


@dataclass
class RtpReceiver(asyncio.DatagramProtocol):
    """A UDP socket on loopback that records every RTP packet it gets (any codec)."""

    packets: list[ReceivedPacket] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    port: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(cls, **fields: Any) -> Self:
        """Bound to a free loopback port; `fields`: a subclass's own."""
        receiver = cls(**fields)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: receiver, local_addr=("127.0.0.1", 0)
        )
        receiver.transport = transport
        receiver.port = transport.get_extra_info("sockname")[1]
        return receiver

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < 12 or 192 <= data[1] <= 223:  # RTCP
            return
        first, second, sequence, timestamp, ssrc = _RTP.unpack_from(data)
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data) - (data[-1] if first & 0x20 else 0)
        self.packets.append(
            ReceivedPacket(
                time.monotonic(),
                sequence,
                timestamp,
                ssrc,
                second & 0x7F,
                bool(second & 0x80),
                data[offset:end],
            )
        )
        self._arrived.set()

    async def wait_packets(self, count: int, within: float) -> None:
        async with asyncio.timeout(within):
            while len(self.packets) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_quiet(self, quiet: float, within: float) -> None:
        """Until no packet has arrived for `quiet` seconds."""
        async with asyncio.timeout(within):
            while True:
                last = self.packets[-1].at if self.packets else time.monotonic()
                remaining = last + quiet - time.monotonic()
                if remaining <= 0:
                    return
                self._arrived.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await self._arrived.wait()
                except TimeoutError:
                    pass

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass
class RtpOpusReceiver(RtpReceiver):
    """An RtpReceiver of the bot's Opus, decoded."""

    def pcm(self, rate: int = 16000) -> bytes:
        """Decode everything received, in sequence order, to PCM s16le mono."""
        decoder = av.CodecContext.create("opus", "r")
        decoder.sample_rate = 48000
        decoder.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        out = bytearray()
        for packet in list(self.packets):  # arrival order: loopback does not reorder
            for frame in decoder.decode(av.Packet(packet.payload)):
                for converted in resampler.resample(frame):
                    out += converted.to_ndarray().astype(np.int16).tobytes()
        return bytes(out)


class CallerVoice:
    """A phone's uplink: one Opus packet every 20 ms, silence unless the caller is talking.
    `say()` queues speech and returns the monotonic time its first packet left (the onset)."""

    def __init__(self, sender: RtpOpusSender) -> None:
        self.sender = sender
        self._silence = opus_packets(bytes(960 * 2), 48000)[0]
        self._speech: asyncio.Queue[tuple[list[bytes], asyncio.Future[float]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="caller-voice")

    async def say(self, pcm: bytes, rate: int) -> float:
        return await self.say_packets(opus_packets(pcm, rate))

    async def say_packets(self, packets: list[bytes]) -> float:
        """Queue already encoded 20 ms Opus packets; the monotonic time the first one was sent."""
        onset: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        await self._speech.put((packets, onset))
        return await onset

    async def _run(self) -> None:
        start = time.monotonic()
        index = 0
        current: list[bytes] = []
        onset: asyncio.Future[float] | None = None
        while True:
            if not current and not self._speech.empty():
                current, onset = self._speech.get_nowait()
                current = list(current)
            payload = current.pop(0) if current else self._silence
            delay = start + index * 0.020 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.sender.send_packets([payload], realtime=False)
            if onset is not None:  # the onset is when the first packet really left
                if not onset.done():
                    onset.set_result(self.sender.sent_at[-1])
                onset = None
            index += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
