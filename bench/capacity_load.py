"""media.capacity's load generator: one of several processes (so the gateway side is not what
breaks first), each opening its share of the sessions and playing a gateway for them: caller RTP
in, from each session's own caller leg, every 20 ms; an endless bot playback fed like streaming
TTS (200 ms PCM pieces kept ~1 s ahead); the bot's packets received by a kernel-timestamped probe.
The parent (capacity.py) drives it over a pipe: grow, measure a window, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from media_controller.g711 import G711Encoder
from voicebot_mediaclient import MediaClient, MediaSession

from bench import audio
from bench.legs import ProbeLegs, open_legs
from bench.rtpprobe import gaps_ms

FEED_CHUNK_S = float(os.environ.get("BENCH_FEED_CHUNK_S", "0.2"))  # PCM per send, as TTS streams
FEED_AHEAD_S = 1.0
LOAD_NICE = int(os.environ.get("BENCH_LOAD_NICE", "0"))  # e.g. 10: the media plane under test first
# The caller packets' phases within the 20 ms: 1 sends every session's packet in one instant (the
# worst case: every caller's packet due at once, which independent callers' never are).
CALLER_PHASES = int(os.environ.get("BENCH_CALLER_PHASES", "10"))
OPEN_AT_ONCE = 4  # sessions a load process opens concurrently (one at a time, a ramp took minutes)
CALLER_TEXT = "Hello, I am calling about my order from last week, it has not arrived yet."
BOT_TEXT = "Thank you for calling. Let me check the status of your order for you. One moment please. "


@dataclass(frozen=True)
class LoadConfig:
    index: int  # of this process among `processes`
    processes: int
    controller_urls: tuple[str, ...]
    secret: str
    codec: str  # "opus" | "pcmu": the sessions' codec, both ways


@dataclass
class Load:
    session: MediaSession
    legs: ProbeLegs
    feeder: asyncio.Task[None]


def caller_payloads(codec: str) -> list[bytes]:
    if codec == "opus":
        return list(audio.packets(CALLER_TEXT))
    encoder = G711Encoder("pcm_mulaw", audio.RATE)
    return encoder.encode(audio.speech(CALLER_TEXT)) + encoder.flush()


async def feed_bot(session: MediaSession, pcm: bytes, stop: asyncio.Event) -> None:
    """One endless playback fed like a streaming TTS: FEED_CHUNK_S pieces, kept ~1 s ahead."""
    await session.start_playback("capacity", audio.RATE)
    chunk = int(audio.RATE * FEED_CHUNK_S) * 2
    position = 0
    started = time.monotonic()
    fed_s = 0.0
    while not stop.is_set():
        if fed_s < time.monotonic() - started + FEED_AHEAD_S:
            if position + chunk > len(pcm):
                position = 0
            await session.send_pcm(pcm[position : position + chunk])
            position += chunk
            fed_s += FEED_CHUNK_S
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FEED_CHUNK_S)


async def send_caller_audio(
    loads: list[Load], payloads: list[bytes], stop: asyncio.Event, late_ms: list[float]
) -> None:
    """Every 20 ms one caller packet to every session, from its own caller leg (mediasoup takes a
    connected leg's packets only from the address it was connected to). The sessions are spread
    over CALLER_PHASES phases of the 20 ms (session n in phase n mod CALLER_PHASES), as independent
    callers' packets arrive at a gateway: not all in one instant. How late each phase's pass
    started goes to `late_ms` (the load process's own health: it must keep up)."""
    phase_s = 0.020 / CALLER_PHASES
    started = time.monotonic()
    tick = 0  # phases since the start
    while not stop.is_set():
        late_ms.append((time.monotonic() - started - tick * phase_s) * 1000)
        frame, phase = divmod(tick, CALLER_PHASES)
        current = list(loads)
        for n in range(phase, len(current), CALLER_PHASES):
            with contextlib.suppress(OSError):
                await current[n].legs.sender.send_packets(
                    [payloads[(frame + 7 * n) % len(payloads)]], realtime=False
                )
        tick += 1
        delay = started + tick * phase_s - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class Generator:
    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.clients = [
            MediaClient(url, secret=config.secret, request_timeout=10.0) for url in config.controller_urls
        ]
        self.loads: list[Load] = []
        self.stop = asyncio.Event()
        self.bot_pcm = audio.speech(BOT_TEXT * 4)
        self.uplink_late_ms: list[float] = []
        self.uplink = asyncio.create_task(
            send_caller_audio(self.loads, caller_payloads(config.codec), self.stop, self.uplink_late_ms)
        )

    async def grow(self, total: int) -> dict[str, Any]:
        """Open sessions until the whole bench has `total`: this process opens the numbers
        n ≡ index (mod processes); session n goes to controller (n // processes) mod controllers."""
        config = self.config
        mine = len(range(config.index, total, config.processes))
        while len(self.loads) < mine:
            numbers = [
                config.index + (len(self.loads) + n) * config.processes
                for n in range(min(OPEN_AT_ONCE, mine - len(self.loads)))
            ]
            opened = await asyncio.gather(
                *(self._open(self.clients[(n // config.processes) % len(self.clients)], n) for n in numbers),
                return_exceptions=True,
            )
            self.loads += [load for load in opened if isinstance(load, Load)]
            failed = [error for error in opened if isinstance(error, BaseException)]
            if failed:
                return {"sessions": len(self.loads), "error": repr(failed[0])}
        return {"sessions": len(self.loads), "error": None}

    async def _open(self, client: MediaClient, number: int) -> Load:
        call_id = f"bench-cap-{uuid.uuid4().hex[:8]}-{number}"
        session = await client.open_session(call_id, uuid.uuid4().hex, codec=self.config.codec)  # type: ignore[arg-type]
        try:
            legs = await open_legs(session.signal, caller_ssrc=0x5EED_0000 + number, codec=self.config.codec)
        except BaseException:
            await session.close()
            raise
        feeder = asyncio.create_task(feed_bot(session, self.bot_pcm, self.stop), name=f"feed-{number}")
        return Load(session, legs, feeder)

    def measure(self, since: float, until: float) -> dict[str, Any]:
        """The bot packet gaps' |gap − 20 ms| of every session in [since, until], and the packets received."""
        deviations: list[np.ndarray] = []
        received = 0
        arrived = sum(len(load.legs.probe.arrivals) for load in self.loads)
        for load in self.loads:
            gaps = np.asarray(gaps_ms(load.legs.probe.arrivals, since, until), dtype=np.float32)
            received += len(gaps) + 1
            deviations.append(np.abs(gaps - 20))
            load.legs.probe.arrivals.clear()
            load.legs.sender.sent_at.clear()
        merged = np.concatenate(deviations) if deviations else np.zeros(0, dtype=np.float32)
        late = np.asarray(self.uplink_late_ms, dtype=np.float32)
        self.uplink_late_ms.clear()
        return {
            "deviations": merged,
            "received": received,
            "arrived": arrived,
            "sessions": len(self.loads),
            "uplink_late_ms": late,
        }

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(self.uplink, *(load.feeder for load in self.loads), return_exceptions=True)
        for load in self.loads:
            load.legs.close()
        await asyncio.gather(*(load.session.close() for load in self.loads), return_exceptions=True)
        await asyncio.gather(*(client.aclose() for client in self.clients), return_exceptions=True)


async def serve(conn: Connection, config: LoadConfig) -> None:
    generator = Generator(config)
    try:
        while True:
            command, *args = await asyncio.to_thread(conn.recv)
            if command == "grow":
                conn.send(await generator.grow(int(args[0])))
            elif command == "measure":
                conn.send(generator.measure(float(args[0]), float(args[1])))
            else:
                break
    finally:
        await generator.close()
        conn.send({"stopped": True})


def main(conn: Connection, config: LoadConfig) -> None:
    """The process's entry point (multiprocessing, spawn). BENCH_LOAD_NICE lowers the load's CPU
    priority (on a real node the callers and call-api are elsewhere); the uplink's lateness then
    shows whether the load still keeps up (bench/README.md)."""
    if LOAD_NICE:
        os.nice(LOAD_NICE)
    asyncio.run(serve(conn, config))
