"""Latency samples and their summary."""

import statistics
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class Latencies:
    samples_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.samples_ms)
        ok = len(ordered)
        return {
            "ok": ok,
            "failed": len(self.failures),
            "p50_ms": round(percentile(ordered, 50), 2),
            "p95_ms": round(percentile(ordered, 95), 2),
            "p99_ms": round(percentile(ordered, 99), 2),
            "mean_ms": round(statistics.fmean(ordered), 2) if ok else None,
            "max_ms": round(ordered[-1], 2) if ok else None,
            "wall_s": round(self.wall_s, 3),
            "calls_per_s": round(ok / self.wall_s, 1) if self.wall_s else None,
            "first_failures": self.failures[:5],
        }
