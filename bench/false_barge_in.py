"""`python -m bench.false_barge_in [--seed N] [--repeats N] [--detector NAME ...]`: the offline
false-barge-in evaluation (voicebot_corpus) of every detector over the generated corpus; prints JSON.

Per detector: per corpus category the false stops (categories that must not stop the bot) or the
stops, misses and onset → stop delay p50/p95/p99 (speech), and CPU µs per 20 ms frame. Offline: no
stack, no network; the through-the-stack figures come once the media-controller calls the detector."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

from voicebot_corpus.cases import MUST_NOT_STOP, build_corpus
from voicebot_corpus.detectors import DETECTORS
from voicebot_corpus.evaluate import category_figures, cpu_us_per_frame, evaluate

GOALS = {"false_stops": 0, "delay_p95_ms": 100}


def figures(seed: int = 14, repeats: int = 3, detectors: list[str] | None = None) -> dict[str, Any]:
    cases = build_corpus(seed, repeats)
    report: dict[str, Any] = {
        "corpus": {"seed": seed, "repeats": repeats, "cases": len(cases)},
        "goals": GOALS,
        "host": {"python": platform.python_version(), "load_average": os.getloadavg()},
        "detectors": {},
    }
    for name in detectors or list(DETECTORS):
        started = time.monotonic()
        outcomes = evaluate(DETECTORS[name], cases)
        per_category = category_figures(outcomes)
        report["detectors"][name] = {
            "false_stops_total": sum(
                int(str(row["false_stops"])) for c, row in per_category.items() if c in MUST_NOT_STOP
            ),
            "cpu_us_per_frame": round(cpu_us_per_frame(outcomes), 1),
            "wall_s": round(time.monotonic() - started, 2),
            "categories": per_category,
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.false_barge_in", description=__doc__)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--repeats", type=int, default=3, help="random placements of every variant")
    parser.add_argument(
        "--detector", action="append", choices=list(DETECTORS), help="repeatable; default all"
    )
    args = parser.parse_args(argv)
    json.dump(figures(args.seed, args.repeats, args.detector), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
