"""The JSON report of a run and the figures in it."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from voicebot_callsim import timeline


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values) if values else None,
        "max": max(values) if values else None,
    }


def write_timelines(report: dict[str, Any], out_dir: Path) -> None:
    """A timeline picture per call next to the report (voicebot_callsim.timeline); the outcome names it."""
    for outcome in report["outcomes"]:
        outcome["timeline"] = str(timeline.write(outcome, out_dir))
