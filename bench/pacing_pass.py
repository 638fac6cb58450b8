"""media.pacing_pass: the CPU of the bot leg's pacing alone, per bot packet: N players (the
controller's own Player, RtpSender, PacingClock and shared encoding, real encoders) each sending an
endless playback fed like a streaming TTS (200 ms PCM pieces kept ~1 s ahead, the same speech in
every stream, as in media.capacity, by one task for all), over real UDP sockets to a local sink
nobody reads, each sent frame handed to a real barge-in detector's `bot_sent` (the echo guard), as
the caller leg does.

Each measurement runs in a process of its own (`python -m bench.pacing_pass STREAMS SECONDS
CODEC`, one JSON line out): its CPU time over a window ÷ the packets sent in it. With
BENCH_PACING_BASELINE=<a directory holding another media_controller package> (e.g. main's
services/media-controller, exported), every round measures that code and this one back to back,
so the two are compared under the same load; the ratio is this ÷ the baseline."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result, simple_table

STREAMS = ([50, 200], [50, 200])  # full, --quick
ROUNDS = (5, 2)
WINDOW_S = (10.0, 4.0)
WARMUP_S = 2.0
FEED_CHUNK_S = 0.2
FEED_AHEAD_S = 1.0
BOT_TEXT = "Thank you for calling. Let me check the status of your order for you. One moment please. "
BASELINE = os.environ.get("BENCH_PACING_BASELINE")
CODECS = os.environ.get("BENCH_PACING_CODECS", "opus,pcmu").split(",")


async def _measure(streams: int, seconds: float, codec_name: str) -> dict[str, Any]:
    from media_controller.barge_in import BargeInDetector, BargeInSettings
    from media_controller.call_codecs import OPUS, PCMU
    from media_controller.pacing import process_clock
    from media_controller.playback import Player
    from media_controller.rtp_sender import RtpSender
    from media_controller.shared_encoding import process_encoding
    from media_controller.udp import open_udp

    from bench import audio

    codec = OPUS if codec_name == "opus" else PCMU
    pcm = audio.speech(BOT_TEXT * 4)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))  # never read: the kernel drops what overflows, as a slow peer would
    players: list[Player] = []
    # The caller leg's detector, its echo guard the part that hears the bot (no Silero: no caller).
    detectors = [BargeInDetector(BargeInSettings(silero_threshold=None)) for _ in range(streams)]
    for n in range(streams):
        udp, _ = await open_udp("127.0.0.1", remote=sink.getsockname())
        detector = detectors[n]
        player = Player(
            RtpSender(udp, codec.payload_type, 0x1000 + n, codec.clock_rate),
            bitrate=32000,
            codec=codec,
            on_started=lambda playback: None,
            on_finished=lambda playback: None,
            on_sent=lambda frame, rate, d=detector: d.bot_sent(frame, time.monotonic() * 1000, rate),
        )
        players.append(player)
    chunk = int(audio.RATE * FEED_CHUNK_S) * 2
    stop = asyncio.Event()

    async def feed() -> None:
        """Every stream the same speech, FEED_CHUNK_S at a time, ~1 s ahead: one task for all of
        them (a task per stream would measure its own wake-ups, not the pass)."""
        loop = asyncio.get_running_loop()
        ahead = int(audio.RATE * FEED_AHEAD_S) * 2
        for n, player in enumerate(players):  # sessions start at any time: due times spread over 20 ms
            player.start(f"s{n}", audio.RATE)
            loop.call_later(random.random() * 0.020, player.feed, pcm[:ahead])
        await asyncio.sleep(0.020)  # every stream has its first second before the rest follows
        started, fed_s, position = time.monotonic(), 0.0, ahead
        while not stop.is_set():
            if fed_s < time.monotonic() - started:
                if position + chunk > len(pcm):
                    position = 0
                piece = pcm[position : position + chunk]
                for player in players:
                    player.feed(piece)
                position += chunk
                fed_s += FEED_CHUNK_S
                continue
            await asyncio.sleep(FEED_CHUNK_S)

    feeder = asyncio.create_task(feed())
    await asyncio.sleep(WARMUP_S)
    clock, encoding = process_clock(), process_encoding()
    sent0, passes0 = sum(p.sender.packets_sent for p in players), clock.passes
    encoded0, shared0 = encoding.encoded, encoding.shared
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    sent = sum(p.sender.packets_sent for p in players) - sent0
    stop.set()
    await feeder
    for player in players:
        player.close()
    sink.close()
    return {
        "streams": streams,
        "codec": codec_name,
        "packets": sent,
        "expected_packets": round(streams * wall / 0.020),
        "cpu_s": round(cpu, 4),
        "us_per_packet": round(cpu / max(sent, 1) * 1e6, 2),
        "cpu_pct": round(cpu / wall * 100, 1),
        "passes": clock.passes - passes0,
        "slices_encoded": encoding.encoded - encoded0,
        "slices_shared": encoding.shared - shared0,
    }


def _run_child(streams: int, seconds: float, codec: str, source: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([source, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "bench.pacing_pass", str(streams), str(seconds), codec],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@scenario("media.pacing_pass", "CPU µs per bot packet of the pacing clock's pass (players, encoders, UDP)")
async def pacing_pass(ctx: BenchContext) -> Result:
    rounds, window = ctx.options.pick(*ROUNDS), ctx.options.pick(*WINDOW_S)
    variants = {"baseline": BASELINE, "this": None} if BASELINE else {"this": None}
    result = Result(info={"window_s": window, "rounds": rounds, "baseline": BASELINE, "runs": []})
    rows: list[list[Any]] = []
    started = time.perf_counter()
    for codec in CODECS:
        for streams in ctx.options.pick(*STREAMS):
            per_variant: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(rounds):
                for name, source in variants.items():  # back to back: the same load for both
                    run = await asyncio.to_thread(_run_child, streams, window, codec, source)
                    run |= {"variant": name, "loadavg_1m": round(os.getloadavg()[0], 2)}
                    result.info["runs"].append(run)
                    per_variant[name].append(run["us_per_packet"])
                    print(f"  {codec} {streams} streams {name}: {run['us_per_packet']} µs/packet", flush=True)
            for name, samples in per_variant.items():
                figure = result.figure(f"{name}_us_per_packet_{codec}@{streams}", unit="µs")
                figure.samples = samples
            medians = {name: sorted(s)[len(s) // 2] for name, s in per_variant.items()}
            if BASELINE:
                ratio = medians["this"] / max(medians["baseline"], 1e-9)
                result.set_value(f"ratio_{codec}@{streams}", round(ratio, 3), "this ÷ baseline")
            rows.append([codec, streams, *(medians[name] for name in variants)])
    result.tables.append(simple_table(["codec", "streams", *(f"µs/packet {n}" for n in variants)], rows))
    result.wall_s = time.perf_counter() - started
    return result


if __name__ == "__main__":
    streams_arg, seconds_arg, codec_arg = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    print(json.dumps(asyncio.run(_measure(streams_arg, seconds_arg, codec_arg))))
