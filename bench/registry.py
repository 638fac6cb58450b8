"""The registry of benchmark scenarios."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.stats import Latencies

ScenarioFn = Callable[[Any], Awaitable[Latencies]]


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
