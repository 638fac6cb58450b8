"""The chaos table: one row per test (fault | what the spec promises | what was measured | outcome),
collected over the session and printed in the terminal summary."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field


@dataclass
class Row:
    nodeid: str
    fault: str = ""
    promise: str = ""
    measured: list[str] = field(default_factory=list)
    outcome: str = "not run"

    def measure(self, text: str) -> None:
        self.measured.append(text)


@dataclass
class ChaosReport:
    rows: list[Row] = field(default_factory=list)

    def row(self, nodeid: str) -> Row:
        row = Row(nodeid)
        self.rows.append(row)
        return row

    def lines(self, width: int = 160) -> list[str]:
        rows = [r for r in self.rows if r.fault]
        if not rows:
            return []
        widths = (34, 44, max(40, width - 34 - 44 - 8 - 9))
        header = ("fault", "what the spec promises", "what was measured", "result")
        out = [_line(header, widths), _line((*("-" * w for w in widths), "-" * 6), widths)]
        for row in rows:
            cells = [
                textwrap.wrap(row.fault, widths[0]) or [""],
                textwrap.wrap(row.promise, widths[1]) or [""],
                [part for text in row.measured for part in textwrap.wrap(text, widths[2])] or ["—"],
                [row.outcome],
            ]
            height = max(len(c) for c in cells)
            for i in range(height):
                out.append(_line(tuple(c[i] if i < len(c) else "" for c in cells), widths))
            out.append("")
        return out


def _line(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    padded = [cell.ljust(w) for cell, w in zip(cells, widths, strict=False)]
    return " | ".join(padded + list(cells[len(widths) :])).rstrip()
