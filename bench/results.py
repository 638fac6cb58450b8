"""What a scenario returns: named figures (distributions or single values), extra info, failures;
and the markdown table of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.stats import rounded, summarize


@dataclass
class Figure:
    """One measured quantity: a distribution of samples, or a single `value`."""

    name: str
    unit: str = "ms"
    goal: str | None = None
    samples: list[float] = field(default_factory=list)
    value: float | None = None

    def add(self, sample: float) -> None:
        self.samples.append(sample)

    def summary(self) -> dict[str, Any]:
        base: dict[str, Any] = {"unit": self.unit, "goal": self.goal}
        if self.value is not None:
            return base | {"value": rounded(self.value)}
        return base | summarize(self.samples)


@dataclass
class Result:
    figures: dict[str, Figure] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    tables: list[str] = field(default_factory=list)  # extra markdown tables (e.g. per ramp step)

    def figure(self, name: str, unit: str = "ms", goal: str | None = None) -> Figure:
        """The figure of this name, created on first use."""
        if name not in self.figures:
            self.figures[name] = Figure(name, unit, goal)
        return self.figures[name]

    def set_value(self, name: str, value: float | None, unit: str = "", goal: str | None = None) -> None:
        figure = self.figure(name, unit, goal)
        figure.value = value

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def fail_all(self, what: list[str]) -> None:
        self.failures.extend(what)

    def summary(self) -> dict[str, Any]:
        return {
            "figures": {name: f.summary() for name, f in self.figures.items()},
            "info": self.info,
            "failed": len(self.failures),
            "first_failures": self.failures[:5],
            "wall_s": round(self.wall_s, 2),
            "tables": self.tables,
        }


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per figure: | scenario | figure | unit | n | p50 | p95 | p99 | max | goal |.
    A single-valued figure shows its value under p50 and n = 1."""
    lines = [
        "| scenario | figure | unit | n | p50 | p95 | p99 | max | goal |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for scenario, summary in results.items():
        failed = summary.get("failed", 0)
        label = f"{scenario} ({failed} failed)" if failed else scenario
        for name, fig in summary["figures"].items():
            if "value" in fig:
                cells = [1, fig["value"], None, None, None]
            else:
                cells = [fig["n"], fig["p50"], fig["p95"], fig["p99"], fig["max"]]
            row = [label, name, fig["unit"] or "", *(_cell(c) for c in cells), fig["goal"] or ""]
            lines.append("| " + " | ".join(str(c) for c in row) + " |")
            label = ""
    return "\n".join(lines)


def simple_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def extra_tables(results: dict[str, dict[str, Any]]) -> str:
    parts = [f"{name}:\n\n{table}" for name, s in results.items() for table in s.get("tables", [])]
    return "\n\n".join(parts)
