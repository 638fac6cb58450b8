"""Percentiles and summaries of samples."""

import statistics
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def rounded(value: float | None, digits: int = 2) -> float | None:
    if value is None or value != value:  # None or NaN
        return None
    return round(value, digits)


def summarize(values: list[float]) -> dict[str, Any]:
    """n, p50/p95/p99, mean, min, max of the values (None when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "min": None, "max": None}
    return {
        "n": len(ordered),
        "p50": rounded(percentile(ordered, 50)),
        "p95": rounded(percentile(ordered, 95)),
        "p99": rounded(percentile(ordered, 99)),
        "mean": rounded(statistics.fmean(ordered)),
        "min": rounded(ordered[0]),
        "max": rounded(ordered[-1]),
    }


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys over xs (None with fewer than 2 distinct xs)."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    return statistics.linear_regression(xs, ys).slope


@dataclass
class Latencies:
    """Latency samples of one kind, with failures and the wall time they took."""

    samples_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
