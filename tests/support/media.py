"""The media plane for tests: the real mediasoup service + media-controller on loopback, and a
minimal "telephony gateway" that sends a WAV/PCM as Opus RTP at real-time pace and receives and
decodes Opus RTP (PyAV). Independent of media_controller's own RTP/Opus code on purpose.

    stack = start_media_stack(tmp_path)        # stack.controller_url, stack.stop()
    sender = RtpOpusSender(port)               # await sender.send_pcm(pcm, 16000)
    receiver = await RtpOpusReceiver.open()    # receiver.port, receiver.pcm()
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from tests.support.procs import REPO_ROOT, VENV_BIN, Proc, http_ok

MEDIASOUP_DIR = REPO_ROOT / "services" / "mediasoup"
OPUS_PT = 100
_RTP = struct.Struct("!BBHII")


# --- the stack ----------------------------------------------------------------------------------


PACKAGE_WORKER = (
    MEDIASOUP_DIR / "node_modules" / "mediasoup" / "worker" / "out" / "Release" / "mediasoup-worker"
)


def mediasoup_worker_bin() -> str | None:
    """The worker binary: the cached build of services/mediasoup/scripts/build-worker.sh, else the
    one last linked into node_modules (what index.js uses by default); None if neither exists."""
    script = MEDIASOUP_DIR / "scripts" / "build-worker.sh"
    if script.exists():
        out = subprocess.run([str(script), "--print-path"], capture_output=True, text=True, check=False)
        path = out.stdout.strip()
        if path and Path(path).exists():
            return path
    return str(PACKAGE_WORKER) if PACKAGE_WORKER.exists() else None


def _listening_port(proc: Proc, timeout: float) -> int:
    match = proc.wait_line(r'"event":\s*"listening"', timeout=timeout)
    return int(json.loads(match.string)["port"])


@dataclass
class MediaStack:
    service: Proc
    controller: Proc
    service_port: int
    controller_port: int
    secret: str
    log_dir: Path

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller_port}"

    @property
    def service_url(self) -> str:
        return f"ws://127.0.0.1:{self.service_port}/"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.controller_url + path, timeout=5) as resp:
            return json.loads(resp.read())

    def text(self, path: str) -> str:
        with urllib.request.urlopen(self.controller_url + path, timeout=5) as resp:
            return str(resp.read().decode())

    def worker_pids(self) -> list[int]:
        """The mediasoup workers' pids (the service's stats, through the controller)."""
        return [int(w["pid"]) for w in self.get("/v1/stats")["workers"]]

    def start_service(self, timeout: float = 30.0) -> None:
        """(Re)start the mediasoup service on the same port (after a test killed it)."""
        self.service = _start_service(self.log_dir, self.secret, self.service_port, timeout)

    def stop(self) -> None:
        self.controller.stop()
        self.service.stop()


def _start_service(log_dir: Path, secret: str, port: int, timeout: float, workers: int = 1) -> Proc:
    env = {
        "MEDIASOUP_SERVICE_PORT": str(port),
        "MEDIASOUP_SERVICE_SECRET": secret,
        "MEDIASOUP_WORKERS": str(workers),
        "LOG_LEVEL": "info",
    }
    worker = mediasoup_worker_bin()
    if worker:
        env["MEDIASOUP_WORKER_BIN"] = worker
    proc = Proc(
        "mediasoup", ["node", str(MEDIASOUP_DIR / "index.js")], log_dir=log_dir, env=env, cwd=MEDIASOUP_DIR
    )
    proc.start()
    try:
        _listening_port(proc, timeout)
    except BaseException:
        proc.stop()
        raise
    return proc


def start_controller(
    service_port: int,
    secret: str,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    name: str = "media-controller",
) -> tuple[Proc, int]:
    """A media-controller connected to the mediasoup service on service_port; returns it and its port."""
    controller_env = {
        "MEDIA_CONTROLLER_PORT": "0",
        "MEDIA_CONTROLLER_MEDIASOUP_URL": f"ws://127.0.0.1:{service_port}/",
        "MEDIA_CONTROLLER_MEDIASOUP_SECRET": secret,
        "MEDIA_CONTROLLER_LOG_LEVEL": "INFO",
        **(env or {}),
    }
    controller = Proc(
        name, [str(VENV_BIN / "python"), "-m", "media_controller"], log_dir=log_dir, env=controller_env
    )
    controller.start()
    try:
        port = _listening_port(controller, timeout)
        controller.wait_ready(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout)
    except BaseException:
        controller.stop()
        raise
    return controller, port


def start_media_stack(
    tmp_path: Path, *, workers: int = 1, controller_env: dict[str, str] | None = None, timeout: float = 30.0
) -> MediaStack:
    """Start the mediasoup service (`workers` workers) and a media-controller connected to it."""
    log_dir = Path(tmp_path) / "media-logs"
    secret = secrets.token_hex(16)
    service = _start_service(log_dir, secret, 0, timeout, workers)
    service_port = _listening_port(service, 1)
    try:
        controller, port = start_controller(
            service_port, secret, log_dir, env=controller_env, timeout=timeout
        )
    except BaseException:
        service.stop()
        raise
    return MediaStack(service, controller, service_port, port, secret, log_dir)


# --- audio helpers ------------------------------------------------------------------------------


def read_audio(path: str | Path, rate: int = 16000) -> bytes:
    """Any audio file → PCM s16le mono at `rate`."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    out = bytearray()
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                out += converted.to_ndarray().astype(np.int16).tobytes()
    for converted in resampler.resample(None):
        out += converted.to_ndarray().astype(np.int16).tobytes()
    return bytes(out)


def speech_wav(tmp_path: Path, text: str, name: str = "speech.wav") -> Path:
    path = Path(tmp_path) / name
    subprocess.run(["espeak-ng", "-v", "en-us+f3", "-w", str(path), text], check=True, capture_output=True)
    return path


def envelope(pcm: bytes, rate: int = 16000, window_ms: int = 20) -> np.ndarray:
    """RMS energy per window."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    size = rate * window_ms // 1000
    count = len(samples) // size
    return np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1))


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Highest Pearson correlation of a and b shifted by up to ±max_lag windows, and that lag."""
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(len(x), len(y))
        if n < 10 or np.std(x[:n]) == 0 or np.std(y[:n]) == 0:
            continue
        r = float(np.corrcoef(x[:n], y[:n])[0, 1])
        if r > best[0]:
            best = (r, lag)
    return best


# --- the gateway's RTP ------------------------------------------------------------------------


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
        self, port: int, host: str = "127.0.0.1", *, ssrc: int = 0x5EED_0001, payload_type: int = OPUS_PT
    ):
        self.address = (host, port)
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.sequence = 1000
        self.timestamp = 0
        self.sent_at: list[float] = []  # monotonic time of every packet sent
        self.audio_level: int | None = None  # set: every packet claims this level (-dBov, 0..127)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))

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
class RtpOpusReceiver(asyncio.DatagramProtocol):
    """A UDP socket on loopback that records every RTP packet it gets."""

    packets: list[ReceivedPacket] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    port: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(cls) -> RtpOpusReceiver:
        receiver = cls()
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

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# --- the gateway's signalling -------------------------------------------------------------------

Signal = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class GatewayLegs:
    """What a telephony gateway sets up for one call: a leg that sends the caller's audio (a
    comedia PlainTransport + producer) and a leg that receives the bot's (PlainTransport + consumer)."""

    caller_transport_id: str
    caller_producer_id: str
    sender: RtpOpusSender
    bot_transport_id: str
    bot_consumer_id: str
    receiver: RtpOpusReceiver
    bot_ssrc: int  # of the bot's RTP as it arrives at receiver.port
    bot_payload_type: int

    def close(self) -> None:
        self.sender.close()
        self.receiver.close()


async def connect_gateway(
    signal: Signal, *, caller_ssrc: int = 0x5EED_0001, audio_level: bool = False
) -> GatewayLegs:
    """Run the mediasoup_request methods a gateway needs, through `signal` (e.g. MediaSession.signal)."""
    caller = await signal("createPlainTransport", {"comedia": True})
    produced = await signal(
        "produce",
        {
            "transport_id": caller["transport_id"],
            "kind": "audio",
            "rtp_parameters": caller_rtp_parameters(caller_ssrc, audio_level=audio_level),
        },
    )
    receiver = await RtpOpusReceiver.open()
    bot = await signal("createPlainTransport", {"comedia": False})
    await signal(
        "connectPlainTransport",
        {"transport_id": bot["transport_id"], "ip": "127.0.0.1", "port": receiver.port},
    )
    consumed = await signal("consume", {"transport_id": bot["transport_id"], "producer_id": "bot"})
    rtp = consumed["rtp_parameters"]
    return GatewayLegs(
        caller["transport_id"],
        produced["producer_id"],
        RtpOpusSender(int(caller["port"]), caller["ip"], ssrc=caller_ssrc),
        bot["transport_id"],
        consumed["consumer_id"],
        receiver,
        int(rtp["encodings"][0]["ssrc"]),
        int(rtp["codecs"][0]["payloadType"]),
    )
