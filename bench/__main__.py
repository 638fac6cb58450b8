"""`python -m bench [PATTERN ...] [--quick] [--soak-seconds S] [--capacity-window S] [--workers N]`:
run the scenarios (all, or those matching a name / prefix / glob), each against stacks of its own
on loopback; write bench/results/<UTC timestamp>.json and print a markdown table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import bench.scenarios  # noqa: F401  (registers every scenario)
from bench.context import BenchContext, Options
from bench.registry import SCENARIOS, select
from bench.results import extra_tables, markdown_table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("patterns", nargs="*", metavar="PATTERN", help="scenario name, prefix or glob")
    parser.add_argument("--scenario", action="append", default=[], help="same as PATTERN (repeatable)")
    parser.add_argument("--quick", action="store_true", help="fewer trials, shorter windows (development)")
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers (2×cores+1)"
    )
    parser.add_argument(
        "--soak-seconds", type=float, default=None, help="soak.memory duration (default 120, --quick 30)"
    )
    parser.add_argument(
        "--capacity-window",
        type=float,
        default=None,
        help="media.capacity: seconds measured per step (default 60, --quick 8)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        quick=args.quick,
        workers=args.workers,
        soak_seconds=args.soak_seconds or (30.0 if args.quick else 120.0),
        capacity_window=args.capacity_window or (8.0 if args.quick else 60.0),
    )


async def run(names: list[str], options: Options) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    ctx = BenchContext(options)
    # SIGTERM cancels the run like Ctrl-C, so the stacks' processes are stopped on the way out.
    current = asyncio.current_task()
    if current is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    try:
        for index, name in enumerate(names):
            if index and name.split(".")[0] != names[index - 1].split(".")[0]:
                ctx.release_shared()
            print(f"running {name}: {SCENARIOS[name].description}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                result = await SCENARIOS[name].run(ctx)
            except Exception as exc:  # one broken scenario does not lose the others' figures
                traceback.print_exc()
                results[name] = {"figures": {}, "info": {}, "failed": 1, "first_failures": [repr(exc)]}
                continue
            if not result.wall_s:
                result.wall_s = time.perf_counter() - started
            results[name] = result.summary()
            print(markdown_table({name: results[name]}), file=sys.stderr, flush=True)
    finally:
        ctx.close()
    return results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.list:
        for name, found in SCENARIOS.items():
            print(f"{name}: {found.description}")
        return 0
    try:
        names = select(args.patterns + args.scenario)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    options = options_from(args)
    started = time.gmtime()
    results = asyncio.run(run(names, options))
    report = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_end": os.getloadavg(),
        },
        "config": {
            "workers": options.workers,
            "quick": options.quick,
            "soak_seconds": options.soak_seconds,
            "capacity_window_s": options.capacity_window,
            "argv": argv,
        },
        "scenarios": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{time.strftime('%Y%m%dT%H%M%SZ', started)}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(results))
    if extras := extra_tables(results):
        print("\n" + extras)
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    print(f"\nresults: {shown}")
    return 1 if any(r.get("failed") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
