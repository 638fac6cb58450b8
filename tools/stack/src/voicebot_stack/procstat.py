"""CPU and memory of processes, through psutil."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil


def children(parent: int) -> list[int]:
    """Direct children of a process that are alive (not zombies); [] if it is gone."""
    try:
        kids = psutil.Process(parent).children()
    except psutil.NoSuchProcess:
        return []
    alive = []
    for child in kids:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return sorted(alive)


def rss_kb(pid: int) -> int | None:
    """Resident set size in KiB, None if the process is gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss // 1024)
    except psutil.NoSuchProcess:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process so far, None if it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return None
    return float(times.user + times.system)


def rss_mb(pids: dict[str, list[int]]) -> dict[str, float]:
    """RSS in MiB per name (summed over its pids)."""
    return {name: round(sum(rss_kb(p) or 0 for p in group) / 1024, 1) for name, group in pids.items()}


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


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
