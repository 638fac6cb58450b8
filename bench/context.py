"""What every scenario gets: the run's options, a scratch directory, and stacks started on demand
(stopped when the run ends, or earlier by the scenario)."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot_stack.fullstack import FullStack

from bench.stack import Stack, full_stack, running_stack


@dataclass(frozen=True)
class Options:
    quick: bool = False
    workers: int = 5
    soak_seconds: float = 120.0
    capacity_window: float = 60.0

    def pick(self, full: Any, quick: Any) -> Any:
        """`full` normally, `quick` with --quick."""
        return quick if self.quick else full


@dataclass
class BenchContext:
    options: Options
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    _exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _callapi: Stack | None = None
    _full: FullStack | None = None

    def scratch(self, name: str) -> Path:
        path = self.work_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def callapi(self) -> Stack:
        """Redis + call-api (echo orchestrator) straight on gunicorn, shared by the callapi.* scenarios."""
        if self._callapi is None:
            self._callapi = self._exit.enter_context(
                running_stack(self.options.workers, log_dir=self.scratch("callapi"))
            )
        return self._callapi

    def full(self) -> FullStack:
        """The full stack with the real Orchestrator (1 gunicorn worker), shared by the call.* scenarios."""
        if self._full is None:
            self._full = self._exit.enter_context(full_stack(self.scratch("full")))
        return self._full

    def release_shared(self) -> None:
        """Stop the shared stacks (between scenario areas: idle processes are noise too)."""
        self._exit.close()
        self._exit = contextlib.ExitStack()
        self._callapi = self._full = None

    def close(self) -> None:
        self.release_shared()
