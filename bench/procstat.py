"""CPU and memory of processes, read from /proc (psutil is not installed)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int | None:
    """Resident set size in KiB (VmRSS), None if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return 0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields[0] is the state (field 3)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def children(parent: int) -> list[int]:
    """Direct children of a process (not zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class CpuWindow:
    """CPU% of a set of named processes between start() and stop() (100% = one core)."""

    pids: dict[str, list[int]]
    _cpu: dict[str, float] | None = None
    _at: float = 0.0

    def _total(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(p) or 0.0 for p in pids) for name, pids in self.pids.items()}

    def start(self) -> CpuWindow:
        self._cpu, self._at = self._total(), time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        assert self._cpu is not None, "start() first"
        elapsed = time.monotonic() - self._at
        now = self._total()
        return {name: round(100 * (now[name] - self._cpu[name]) / elapsed, 1) for name in self.pids}


def rss_mb(pids: dict[str, list[int]]) -> dict[str, float]:
    """RSS in MiB per name (summed over its pids)."""
    return {name: round(sum(rss_kb(p) or 0 for p in group) / 1024, 1) for name, group in pids.items()}
