"""The registry of benchmark scenarios: `@scenario("area.name", "what it measures")` on an async
function that takes the BenchContext and returns a Result."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.results import Result

if TYPE_CHECKING:
    from bench.context import BenchContext

ScenarioFn = Callable[["BenchContext"], Awaitable[Result]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFn


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} registered twice")
        SCENARIOS[name] = Scenario(name, description, fn)
        return fn

    return register


def select(patterns: list[str]) -> list[str]:
    """Scenario names matching any pattern: an exact name, a prefix ("media" → media.*) or a glob;
    all of them (in registration order) when there is no pattern. ValueError if one matches none."""
    if not patterns:
        return list(SCENARIOS)
    chosen: list[str] = []
    for pattern in patterns:
        found = [
            n
            for n in SCENARIOS
            if n == pattern or n.startswith(pattern.rstrip(".") + ".") or fnmatch.fnmatch(n, pattern)
        ]
        if not found:
            raise ValueError(f"no scenario matches {pattern!r} (try --list)")
        chosen += [n for n in found if n not in chosen]
    return chosen
