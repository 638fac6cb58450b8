"""media.capacity: how many concurrent sessions the media plane carries with media both ways
(caller RTP in, bot playback out) while the bot's packets keep their 20 ms pace.

Ramp 10, 25, 50, 100, … sessions (each step adds sessions to the running ones); after a settle,
measure for a window: the gaps between consecutive bot packets at each gateway socket (kernel
receive time). A step passes when p99 |gap − 20 ms| ≤ 10 ms and < 1 % of the packets are
missing; the figure is the largest step up to which every step passed. The ramp always goes up
to 100 sessions (CPU% and RSS of the media-controller, the mediasoup worker(s), the Node service
and this benchmark's own process are reported per step), then stops at the first failing step,
or earlier once ≥ 5 % of the bot audio is missing (overloaded)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
import uuid
from dataclasses import dataclass

from voicebot_mediaclient import MediaClient, MediaSession
from voicebot_stack.procstat import CpuWindow, rss_mb

from bench import audio
from bench.context import BenchContext
from bench.legs import ProbeLegs, open_legs
from bench.registry import scenario
from bench.results import Result, simple_table
from bench.rtpprobe import gaps_ms
from bench.stack import media_stack
from bench.stats import percentile

STEPS = ([10, 25, 50, 100, 150, 200, 300, 400], [10, 25, 50])  # full, --quick
BUDGET_MS = 10.0  # p99 |gap − 20 ms|
MAX_MISSING = 0.01
OVERLOADED_MISSING = 0.05  # this much bot audio missing: stop the ramp
REPORT_AT = (10, 50, 100)  # steps always measured (CPU%, RSS), even past a failing one
SETTLE_S = 3.0
FEED_CHUNK_S = float(os.environ.get("BENCH_FEED_CHUNK_S", "0.2"))  # PCM per send, as TTS streams
FEED_AHEAD_S = 1.0
MEDIASOUP_WORKERS = 2  # one per core, as deployed
_RTP = struct.Struct("!BBHII")
CALLER_TEXT = "Hello, I am calling about my order from last week, it has not arrived yet."
BOT_TEXT = "Thank you for calling. Let me check the status of your order for you. One moment please. "


@dataclass
class Load:
    session: MediaSession
    legs: ProbeLegs
    feeder: asyncio.Task[None]
    sequence: int = 0


class CallerUplink:
    """The callers' RTP of every session from one UDP socket (each comedia transport latches onto it)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    def send(self, load: Load, payload: bytes) -> None:
        header = _RTP.pack(
            0x80, 100, load.sequence & 0xFFFF, (load.sequence * 960) & 0xFFFFFFFF, load.legs.sender.ssrc
        )
        load.sequence += 1
        with contextlib.suppress(BlockingIOError):
            self.sock.sendto(header + payload, load.legs.sender.address)

    def close(self) -> None:
        self.sock.close()


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


async def send_caller_audio(loads: list[Load], packets: list[bytes], stop: asyncio.Event) -> None:
    """Every 20 ms one caller packet to every session (one task for all: cheap on the bench side)."""
    uplink = CallerUplink()
    started = time.monotonic()
    tick = 0
    while not stop.is_set():
        for n, load in enumerate(list(loads)):
            uplink.send(load, packets[(tick + 7 * n) % len(packets)])
        tick += 1
        delay = started + tick * 0.020 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    uplink.close()


@scenario("media.capacity", "most concurrent sessions (RTP both ways) keeping bot packet gaps 20±10 ms p99")
async def capacity(ctx: BenchContext) -> Result:
    steps = ctx.options.pick(*STEPS)
    window = ctx.options.capacity_window
    result = Result(
        info={
            "window_s": window,
            "budget": f"p99 |gap-20ms| <= {BUDGET_MS} ms, missing < 1%",
            "mediasoup_workers": MEDIASOUP_WORKERS,
            "steps": [],
        }
    )
    caller_packets = list(audio.packets(CALLER_TEXT))
    bot_pcm = audio.speech(BOT_TEXT * 4)
    rows: list[list[object]] = []
    passed = previous = 0
    stop = asyncio.Event()
    loads: list[Load] = []
    started = time.perf_counter()
    with media_stack(ctx.scratch("media-capacity"), workers=MEDIASOUP_WORKERS) as media:
        client = MediaClient(media.controller_url, secret=media.api_secret, request_timeout=10.0)
        sender = asyncio.create_task(send_caller_audio(loads, caller_packets, stop))
        try:
            for target in steps:
                began = time.monotonic()
                try:
                    while len(loads) < target:
                        loads.append(await add_session(client, bot_pcm, stop, len(loads)))
                except Exception as exc:
                    result.fail(f"opening session {len(loads) + 1}: {exc!r}")
                    break
                setup_s = time.monotonic() - began
                await asyncio.sleep(SETTLE_S)
                pids = {
                    "controller": [media.controller.pid],
                    "worker": media.worker_pids(),
                    "service": [media.service.pid],
                    "bench": [os.getpid()],
                }
                cpu = CpuWindow(pids).start()
                t0 = time.monotonic()
                await asyncio.sleep(window)
                t1 = time.monotonic()
                usage, memory = cpu.stop(), rss_mb(pids)
                deviations: list[float] = []
                histogram: dict[int, int] = {}  # gap rounded down to 5 ms → count
                received = 0
                for load in loads:
                    gaps = gaps_ms(load.legs.probe.arrivals, t0, t1)
                    for g in gaps:
                        histogram[int(g // 5 * 5)] = histogram.get(int(g // 5 * 5), 0) + 1
                    received += len(gaps) + 1
                    deviations += [abs(g - 20) for g in gaps]
                    load.legs.probe.arrivals.clear()
                deviations.sort()
                expected = len(loads) * window / 0.020
                missing = max(0.0, 1 - received / expected)
                p99 = percentile(deviations, 99)
                ok = p99 <= BUDGET_MS and missing < MAX_MISSING
                p50 = percentile(deviations, 50)
                worst = deviations[-1] if deviations else 0.0
                step: dict[str, object] = {
                    "sessions": len(loads),
                    "setup_s": round(setup_s, 1),
                    "gap_dev_p50": p50,
                    "gap_dev_p99": p99,
                    "gap_dev_max": worst,
                    "missing": round(missing, 4),
                    "cpu_pct": usage,
                    "rss_mb": memory,
                    "ok": ok,
                    "gap_histogram_5ms": dict(sorted(histogram.items())),
                    "host_loadavg_1m": os.getloadavg()[0],
                }
                result.info["steps"].append(step)
                rows.append(
                    [
                        len(loads),
                        round(p50, 2),
                        round(p99, 2),
                        round(worst, 1),
                        f"{missing:.2%}",
                        usage["controller"],
                        usage["worker"],
                        usage["service"],
                        usage["bench"],
                        memory["controller"],
                        memory["worker"],
                        memory["service"],
                        "yes" if ok else "NO",
                    ]
                )
                print(
                    f"  {len(loads)} sessions: p99 |gap-20| {p99:.1f} ms, missing {missing:.2%}, cpu {usage}",
                    flush=True,
                )
                if ok and passed == previous:  # every step so far within budget
                    passed = len(loads)
                previous = len(loads)
                if len(loads) in REPORT_AT or ok:
                    figure = result.figure(f"gap_deviation@{len(loads)}", goal=f"p99 ≤ {BUDGET_MS:g} ms")
                    figure.samples = deviations
                # Go on past a failing step up to REPORT_AT's largest (CPU/RSS figures at 10/50/100
                # sessions), then stop at the first failure; stop anyway once clearly overloaded.
                if (not ok and len(loads) >= max(REPORT_AT)) or missing >= OVERLOADED_MISSING:
                    break
        finally:
            stop.set()
            await asyncio.gather(sender, *(load.feeder for load in loads), return_exceptions=True)
            for load in loads:
                load.legs.close()
            await asyncio.gather(*(load.session.close() for load in loads), return_exceptions=True)
            await client.aclose()
    # In the main table: the gap deviation at the largest passing step and at REPORT_AT's steps.
    keep = {f"gap_deviation@{n}" for n in (passed, *REPORT_AT)}
    for name in [n for n in result.figures if n.startswith("gap_deviation@") and n not in keep]:
        del result.figures[name]
    result.set_value(
        "max_sessions_within_budget", passed, "sessions", "(ramp ended)" if passed == steps[-1] else ""
    )
    result.tables.append(
        simple_table(
            [
                "sessions",
                "gap dev p50 ms",
                "p99 ms",
                "max ms",
                "missing",
                "CPU% controller",
                "CPU% worker(s)",
                "CPU% service",
                "CPU% bench",
                "RSS MB controller",
                "RSS MB worker(s)",
                "RSS MB service",
                "within",
            ],
            rows,
        )
    )
    result.wall_s = time.perf_counter() - started
    return result


async def add_session(client: MediaClient, bot_pcm: bytes, stop: asyncio.Event, n: int) -> Load:
    session = await client.open_session(f"bench-cap-{uuid.uuid4().hex[:8]}-{n}", uuid.uuid4().hex)
    try:
        legs = await open_legs(session.signal, caller_ssrc=0x5EED_0000 + n)
    except BaseException:
        await session.close()
        raise
    feeder = asyncio.create_task(feed_bot(session, bot_pcm, stop), name=f"feed-{n}")
    return Load(session, legs, feeder)
