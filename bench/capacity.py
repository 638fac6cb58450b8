"""media.capacity: how many concurrent sessions the media plane carries with media both ways
(caller RTP in, bot playback out) while the bot's packets keep their 20 ms pace.

One ramp per configuration: codec (Opus, G.711 μ-law) × controllers per node (the default, one
per core, and 1), each controller with its own mediasoup service (MEDIASOUP_WORKERS each: the
node's cores shared out). Ramp 10, 25, 50, 100, … sessions (each step adds sessions to the running
ones), spread round-robin over the controllers, each session's caller packets in one of
BENCH_CALLER_PHASES phases of the 20 ms (as independent callers' arrive; 1: all at one instant,
the worst case); after a settle, measure for a window: the gaps
between consecutive bot packets at each gateway socket (kernel receive time). A step passes when
p99 |gap − 20 ms| ≤ 10 ms and < 1 % of the packets are missing; the figure is the largest step up
to which every step passed. The ramp always goes up to 100 sessions, then stops at the first
failing step, or earlier once ≥ 5 % of the bot audio is missing (overloaded).

The gateway side runs in processes of its own (capacity_load.py), so it is not what breaks first:
BENCH_LOAD_PROCESSES, by default one per SESSIONS_PER_LOAD_PROCESS of the ramp's largest step (at
least max(2, cores)); its CPU is reported per step beside the controllers', the mediasoup
workers', the Node services' and this process's, and a step whose busiest load process neared a
core (LOAD_BUSY_PCT) is flagged: there the load generator may have been what broke.
BENCH_PROFILE=<dir>: a py-spy profile of every controller and load process during every window
(collapsed stacks, `py-spy record --format raw`)."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from voicebot_stack.medianode import MediaNode, default_controllers, start_media_node
from voicebot_stack.procstat import CpuWindow, rss_mb

from bench import capacity_load
from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result, simple_table
from bench.stats import percentile

STEPS = ([10, 25, 50, 100, 150, 200, 300, 400, 500], [25, 100, 200])  # full, --quick
BUDGET_MS = 10.0  # p99 |gap − 20 ms|
MAX_MISSING = 0.01
OVERLOADED_MISSING = 0.05  # this much bot audio missing: stop the ramp
REPORT_AT = (10, 50, 100)  # steps always measured (CPU%, RSS), even past a failing one
SETTLE_S = 3.0
CORES = os.cpu_count() or 1
LOAD_PROCESSES = os.environ.get("BENCH_LOAD_PROCESSES")  # default: load_processes(the ramp)
# A load process (one event loop) took ~10 % of a core per 50 sessions (2026-12-01): 100 each keeps
# the busiest well below a core, where its own lateness would show as the controllers'.
SESSIONS_PER_LOAD_PROCESS = 100
LOAD_BUSY_PCT = 70.0  # of a core: the load process is near what would break first
CONTROLLER_ENV = {"MEDIA_CONTROLLER_MAX_SESSIONS": "2000"}  # the bench finds the limit itself
PROFILE_DIR = os.environ.get("BENCH_PROFILE")
PROJECTION_HEADROOM = 0.7  # of the node's cores the media plane may take in the projection


@dataclass(frozen=True)
class Config:
    codec: str  # "opus" | "pcmu"
    controllers: int

    @property
    def name(self) -> str:
        return f"{self.codec}/{self.controllers}ctl"


def configs() -> list[Config]:
    """Opus first (the headline figure), default controllers per node first; BENCH_CAPACITY=
    "opus:2,pcmu:1" picks others."""
    chosen = os.environ.get("BENCH_CAPACITY")
    if chosen:
        pairs = [item.split(":") for item in chosen.split(",") if item]
        return [Config(codec, int(count)) for codec, count in pairs]
    counts = list(dict.fromkeys([default_controllers(), 1]))
    return [Config(codec, count) for count in counts for codec in ("opus", "pcmu")]


def load_processes(steps: list[int]) -> int:
    """How many load processes the ramp needs: BENCH_LOAD_PROCESSES, else enough for its largest step."""
    if LOAD_PROCESSES:
        return int(LOAD_PROCESSES)
    return max(2, CORES, math.ceil(max(steps, default=0) / SESSIONS_PER_LOAD_PROCESS))


class LoadProcesses:
    """The load generator's processes, each driven over its own pipe."""

    def __init__(self, node: MediaNode, codec: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        for index in range(count):
            ours, theirs = context.Pipe()
            config = capacity_load.LoadConfig(
                index, count, tuple(node.controller_urls), node.stacks[0].api_secret, codec
            )
            process = context.Process(target=capacity_load.main, args=(theirs, config), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.processes]

    async def ask(self, *command: object) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ask("stop"), 60)
        except (TimeoutError, EOFError, OSError):
            pass
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


def profile(pids: dict[str, int], seconds: float, label: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on each named process (the controllers, the load processes) for the window
    (BENCH_PROFILE set), non-blocking sampling."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not PROFILE_DIR or not Path(py_spy).exists():
        return []
    Path(PROFILE_DIR).mkdir(parents=True, exist_ok=True)
    record = [py_spy, "record", "--nonblocking", "-r", "100", "-d", str(int(seconds)), "--format", "raw"]
    return [
        subprocess.Popen(
            [*record, "-p", str(pid), "-o", str(Path(PROFILE_DIR) / f"{label}-{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


async def ramp(ctx: BenchContext, config: Config, steps: list[int]) -> dict[str, Any]:
    """One configuration's ramp: its steps (dicts), table rows, the figure and the failures."""
    window = ctx.options.capacity_window
    workers = max(1, CORES // config.controllers)
    out: dict[str, Any] = {"steps": [], "rows": [], "passed": 0, "samples": {}, "errors": []}
    passed = previous = 0
    scratch = ctx.scratch(f"media-capacity-{config.codec}-{config.controllers}")
    node = await asyncio.to_thread(
        start_media_node,
        scratch,
        controllers=config.controllers,
        workers_per_controller=workers,
        controller_env=CONTROLLER_ENV,
    )
    load = LoadProcesses(node, config.codec, load_processes(steps))
    try:
        for target in steps:
            began = time.monotonic()
            grown = await load.ask("grow", target)
            sessions = sum(int(g["sessions"]) for g in grown)
            errors = [g["error"] for g in grown if g["error"]]
            if errors:
                out["errors"].append(f"{config.name}: opening session {sessions + 1}: {errors[0]}")
                break
            setup_s = time.monotonic() - began
            print(f"  {config.name}: {sessions} sessions open in {setup_s:.0f} s, measuring", flush=True)
            await asyncio.sleep(SETTLE_S)
            controllers = [stack.controller.pid for stack in node.stacks]
            pids = {
                "controller": controllers,
                **{f"controller{n + 1}": [pid] for n, pid in enumerate(controllers)},
                "worker": [pid for stack in node.stacks for pid in stack.worker_pids()],
                "service": [stack.service.pid for stack in node.stacks],
                "load": load.pids,
                **{f"load{n + 1}": [pid] for n, pid in enumerate(load.pids)},
                "bench": [os.getpid()],
            }
            profiled = {f"controller{n + 1}": pid for n, pid in enumerate(controllers)}
            profiled |= {f"load{n + 1}": pid for n, pid in enumerate(load.pids)}
            profilers = profile(profiled, window, f"{config.codec}-{config.controllers}ctl-{sessions}")
            cpu = CpuWindow(pids).start()
            t0 = time.monotonic()
            await asyncio.sleep(window)
            t1 = time.monotonic()
            usage, memory = cpu.stop(), rss_mb(pids)
            host_load = os.getloadavg()[0]
            busiest_load = max(usage[f"load{n + 1}"] for n in range(len(load.pids)))
            for profiler in profilers:
                await asyncio.to_thread(profiler.wait, window + 30)
            measured = await load.ask("measure", t0, t1)
            deviations = np.sort(np.concatenate([m["deviations"] for m in measured])).astype(float).tolist()
            uplink_late = np.concatenate([m["uplink_late_ms"] for m in measured]).astype(float).tolist()
            uplink_late_p99 = round(percentile(sorted(uplink_late), 99), 1) if uplink_late else 0.0
            received = sum(int(m["received"]) for m in measured)
            arrived = sum(int(m["arrived"]) for m in measured)  # since the last window, in or out of it
            expected = sessions * window / 0.020
            missing = max(0.0, 1 - received / expected)
            p50, p95, p99 = (percentile(deviations, q) for q in (50, 95, 99))
            worst = deviations[-1] if deviations else 0.0
            ok = p99 <= BUDGET_MS and missing < MAX_MISSING
            per_packet_us = usage["controller"] / 100 / (sessions * 100) * 1e6  # 50 in + 50 out per second
            step: dict[str, Any] = {
                "sessions": sessions,
                "setup_s": round(setup_s, 1),
                "gap_dev_p50": p50,
                "gap_dev_p95": p95,
                "gap_dev_p99": p99,
                "gap_dev_max": worst,
                "missing": round(missing, 4),
                "packets_since_last_window": arrived,
                "cpu_pct": usage,
                "rss_mb": memory,
                "controller_cpu_pct_per_session": round(usage["controller"] / sessions, 3),
                "controller_cpu_us_per_packet": round(per_packet_us, 1),
                "ok": ok,
                # One load process is one event loop: near 100 % of a core it is what breaks first.
                "load_cpu_pct_busiest_process": busiest_load,
                "load_near_a_core": busiest_load >= LOAD_BUSY_PCT,
                "load_cpu_us_per_packet": round(usage["load"] / 100 / (sessions * 100) * 1e6, 1),
                # How late the load's caller packets left (p99 of its 20 ms passes): it kept up?
                "load_uplink_late_p99_ms": uplink_late_p99,
                "host_loadavg_1m": host_load,
            }
            out["steps"].append(step)
            near_a_core = ", NEAR A CORE" if step["load_near_a_core"] else ""
            out["rows"].append(
                [
                    sessions,
                    round(p50, 2),
                    round(p95, 2),
                    round(p99, 2),
                    round(worst, 1),
                    f"{missing:.2%}",
                    usage["controller"],
                    " / ".join(str(usage[f"controller{n + 1}"]) for n in range(len(controllers))),
                    round(usage["controller"] / sessions, 2),
                    round(per_packet_us, 1),
                    usage["worker"],
                    usage["service"],
                    f"{usage['load']} (≤ {busiest_load} each{near_a_core})",
                    uplink_late_p99,
                    memory["controller"],
                    memory["worker"],
                    memory["load"],
                    round(host_load, 1),
                    "yes" if ok else "NO",
                ]
            )
            print(
                f"  {config.name} {sessions} sessions: p50/p95/p99 |gap-20| {p50:.1f}/{p95:.1f}/{p99:.1f} ms,"
                f" missing {missing:.2%}, load late p99 {uplink_late_p99} ms, cpu {usage}",
                flush=True,
            )
            if ok and passed == previous:  # every step so far within budget
                passed = sessions
            previous = sessions
            if sessions in REPORT_AT or ok:
                out["samples"][sessions] = deviations
            # Go on past a failing step up to REPORT_AT's largest (CPU/RSS figures at 10/50/100
            # sessions), then stop at the first failure; stop anyway once clearly overloaded.
            if (not ok and sessions >= max(REPORT_AT)) or missing >= OVERLOADED_MISSING:
                break
    finally:
        await load.close()
        await asyncio.to_thread(node.stop)
    out["passed"] = passed
    return out


def projected_sessions(steps: list[dict[str, Any]]) -> tuple[int, int] | None:
    """Sessions the node's cores would carry at PROJECTION_HEADROOM, from the media plane's CPU per
    session (controllers + mediasoup workers + services; the load generator is the gateway and
    call-api, elsewhere in production) at the largest step within the budget (there the cost was
    paid in full while the audio kept its pace: a starved controller does less work, and at a
    small step the fixed costs overstate it), and that step's sessions; None when no step was
    within the budget. A projection for a host without the load generator, not a measured pass."""
    within = [step for step in steps if step["ok"]]
    if not within:
        return None
    step = max(within, key=lambda step: int(step["sessions"]))
    cpu = step["cpu_pct"]
    per_session = (cpu["controller"] + cpu["worker"] + cpu["service"]) / step["sessions"]
    return int(PROJECTION_HEADROOM * CORES * 100 / max(per_session, 1e-6)), int(step["sessions"])


HEADER = [
    "sessions",
    "gap dev p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "missing",
    "CPU% controllers",
    "CPU% each",
    "CPU%/session",
    "µs CPU/packet",
    "CPU% worker(s)",
    "CPU% service(s)",
    "CPU% load gen",
    "load gen late p99 ms",
    "RSS MB controllers",
    "RSS MB worker(s)",
    "RSS MB load gen",
    "host load 1m",
    "within",
]


@scenario("media.capacity", "most concurrent sessions (RTP both ways) keeping bot packet gaps 20±10 ms p99")
async def capacity(ctx: BenchContext) -> Result:
    chosen_steps = os.environ.get("BENCH_CAPACITY_STEPS")  # e.g. "25,100": another ramp
    steps = [int(n) for n in chosen_steps.split(",")] if chosen_steps else ctx.options.pick(*STEPS)
    chosen = configs()
    primary = chosen[0]
    result = Result(
        info={
            "window_s": ctx.options.capacity_window,
            "budget": f"p99 |gap-20ms| <= {BUDGET_MS} ms, missing < 1%",
            "codec": primary.codec,
            "controllers": primary.controllers,
            "mediasoup_workers_per_controller": max(1, CORES // primary.controllers),
            "load_processes": load_processes(steps),
            "caller_phases": capacity_load.CALLER_PHASES,
            "steps": [],
            "ramps": {},
        }
    )
    started = time.perf_counter()
    for config in chosen:
        print(f"  ramp {config.name}", flush=True)
        ramped = await ramp(ctx, config, steps)
        for error in ramped["errors"]:
            result.fail(error)
        result.info["ramps"][config.name] = {
            "codec": config.codec,
            "controllers": config.controllers,
            "max_sessions_within_budget": ramped["passed"],
            "steps": ramped["steps"],
        }
        ended = " (ramp ended)" if ramped["passed"] == steps[-1] else ""
        busiest_host = max((step["host_loadavg_1m"] for step in ramped["steps"]), default=0.0)
        load_bound = [step["sessions"] for step in ramped["steps"] if step["load_near_a_core"]]
        if load_bound:  # the gateway side's own lateness may be in these steps' figures
            ended += f" (a load process near a core at {', '.join(map(str, load_bound))} sessions)"
        if busiest_host > CORES:  # other work took the cores: the figure is this host's, not the node's
            ended += f" (host load up to {busiest_host:.1f} on {CORES} cores)"
        if config == primary:
            result.info["steps"] = ramped["steps"]
            result.set_value("max_sessions_within_budget", ramped["passed"], "sessions", ended.strip())
        elif config.codec == "pcmu" and config.controllers == primary.controllers:
            result.set_value("max_sessions_within_budget_g711", ramped["passed"], "sessions", ended.strip())
        else:
            name = f"max_sessions_within_budget_{config.codec}_{config.controllers}ctl"
            result.set_value(name, ramped["passed"], "sessions", ended.strip())
        suffix = "" if config == primary else f"_{config.codec}_{config.controllers}ctl"
        projected = projected_sessions(ramped["steps"])
        if projected is not None:
            goal = f"CPU/session at {projected[1]}, {PROJECTION_HEADROOM:.0%} of {CORES} cores: a projection"
            result.set_value(f"projected_sessions{suffix}", projected[0], "sessions", goal)
            result.info["ramps"][config.name]["projected_sessions"] = projected[0]
        for sessions in {ramped["passed"], *REPORT_AT} & set(ramped["samples"]):
            figure = result.figure(f"gap_deviation{suffix}@{sessions}", goal=f"p99 ≤ {BUDGET_MS:g} ms")
            figure.samples = ramped["samples"][sessions]
        result.tables.append(f"{config.name}:\n\n" + simple_table(HEADER, ramped["rows"]))
    result.wall_s = time.perf_counter() - started
    return result
