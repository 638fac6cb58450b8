"""`python -m bench [--scenario NAME ...] [--workers N]`: run the scenarios against a fresh stack,
write bench/results/<UTC timestamp>.json and print a markdown table."""

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import bench.callapi  # noqa: F401  (registers its scenarios)
from bench.registry import SCENARIOS
from bench.stack import running_stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="run only these (default: all)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn workers (default 2×cores+1)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args(argv)


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    columns = ["ok", "failed", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms", "calls_per_s"]
    lines = [
        "| scenario | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, summary in results.items():
        lines.append(f"| {name} | " + " | ".join(str(summary[c]) for c in columns) + " |")
    return "\n".join(lines)


async def run(names: list[str], workers: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with running_stack(workers) as stack:
        for name in names:
            print(f"running {name}: {SCENARIOS[name].description}", file=sys.stderr)
            latencies = await SCENARIOS[name].run(stack)
            results[name] = latencies.summary()
    return results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.list:
        for name, found in sorted(SCENARIOS.items()):
            print(f"{name}: {found.description}")
        return 0
    names = args.scenario or list(SCENARIOS)
    started = time.gmtime()
    results = asyncio.run(run(names, args.workers))
    report = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "workers": args.workers,
            "target": "gunicorn (direct, no nginx)",
            "orchestrator": "echo (test)",
        },
        "scenarios": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{time.strftime('%Y%m%dT%H%M%SZ', started)}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(results))
    print(f"\nresults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 1 if any(r["failed"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
