"""Offline evaluation: each detector over each corpus case, frame by frame as the media-controller
sees it (16 kHz, 20 ms): the bot frame sent at t = 20·i, the caller frame i arriving at 20·(i+1).

Per case: did it stop the bot (the first onset while the bot speaks), how long after the event's
onset, and the CPU it took per frame."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from voicebot_corpus.cases import Case
from voicebot_corpus.detectors import Detector
from voicebot_corpus.levels import FRAME_MS, frames_of


@dataclass(frozen=True)
class Outcome:
    case: str
    category: str
    should_stop: bool
    stopped: bool
    early: bool  # stopped before the event began (by something else in the caller leg)
    delay_ms: float | None  # event onset → the deciding frame's arrival, when stopped by the event
    frames: int
    cpu_ns: int  # process CPU time (all threads: Silero's runtime may use more than one)


def run_case(detector: Detector, case: Case) -> Outcome:
    bot_frames = frames_of(case.bot)
    caller_frames = frames_of(case.caller)
    cpu = 0
    onset = None
    for n, caller_frame in enumerate(caller_frames):
        started = time.process_time_ns()
        detector.bot_sent(bot_frames[n], n * FRAME_MS)
        onset = detector.push(caller_frame, (n + 1) * FRAME_MS)
        cpu += time.process_time_ns() - started
        if onset is not None:
            break
    frames = n + 1
    early = onset is not None and onset.detected_ms <= case.event_ms
    delay = onset.detected_ms - case.event_ms if onset is not None and not early else None
    return Outcome(case.name, case.category, case.should_stop, onset is not None, early, delay, frames, cpu)


def evaluate(factory: Callable[[], Detector], cases: Iterable[Case]) -> list[Outcome]:
    return [run_case(factory(), case) for case in cases]


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def category_figures(outcomes: list[Outcome]) -> dict[str, dict[str, object]]:
    """Per category: cases, stops (false stops where it must not stop), misses, delay p50/p95/p99."""
    figures: dict[str, dict[str, object]] = {}
    for category in dict.fromkeys(o.category for o in outcomes):
        mine = [o for o in outcomes if o.category == category]
        delays = [o.delay_ms for o in mine if o.delay_ms is not None]
        row: dict[str, object] = {"cases": len(mine)}
        if mine[0].should_stop:
            row |= {
                "stopped": sum(o.stopped and not o.early for o in mine),
                "missed": sum(not o.stopped for o in mine),
                "early_stops": sum(o.early for o in mine),
                "delay_ms": {f"p{q}": percentile(delays, q) for q in (50, 95, 99)},
            }
        else:
            row |= {
                "false_stops": sum(o.stopped for o in mine),
                "false_stop_cases": [o.case for o in mine if o.stopped],
            }
        figures[category] = row
    return figures


def cpu_us_per_frame(outcomes: list[Outcome]) -> float:
    frames = sum(o.frames for o in outcomes)
    return sum(o.cpu_ns for o in outcomes) / frames / 1000 if frames else 0.0
