"""A per-call timeline picture next to the JSON report: bot speech (play_audio until its
stop_audio or the bot's transcript), stop_audio, barge-ins (caller onset, from the measured
onset → stop_audio) and the caller's recognised utterances, on one time axis in ms.

Drawn from the report's own outcome (its events and barge_ins), so it shows what the JSON says."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

WIDTH, HEIGHT, LEFT, RIGHT = 1200, 170, 110, 20
LANES = {"bot speech": 40, "caller": 80, "barge-in": 110, "stop_audio": 140}
BOT, CALLER, BARGE, STOP = (31, 119, 180), (44, 160, 44), (214, 39, 40), (0, 0, 0)
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class Timeline:
    bot: list[tuple[float, float]]  # ms intervals
    caller: list[float]  # ms: the caller's final transcripts
    barge_ins: list[float]  # ms: caller onsets that interrupted the bot
    stops: list[float]  # ms: stop_audio
    end_ms: float


def of_outcome(outcome: dict[str, Any]) -> Timeline:
    events = outcome.get("events", [])
    end_ms = max([e["t_ms"] for e in events], default=1.0) or 1.0
    bot: list[tuple[float, float]] = []
    caller: list[float] = []
    stops: list[float] = []
    started: float | None = None
    for e in events:
        kind, payload = e.get("event"), e.get("payload") or {}
        if kind == "play_audio" and started is None:
            started = e["t_ms"]
        elif kind == "stop_audio":
            stops.append(e["t_ms"])
        if kind == "stop_audio" or (kind == "transcript" and payload.get("role") == "bot"):
            if started is not None:
                bot.append((started, e["t_ms"]))
                started = None
        if kind == "transcript" and payload.get("role") == "caller" and payload.get("final", True):
            caller.append(e["t_ms"])
    if started is not None:
        bot.append((started, end_ms))
    barge_ins = []
    for b in outcome.get("barge_ins", []):
        stop_ms = b.get("stop_audio_ms")
        later = [s for s in stops if stop_ms is not None and s >= stop_ms]
        if stop_ms is not None and later:
            barge_ins.append(later[0] - stop_ms)
    return Timeline(bot, caller, barge_ins, stops, end_ms)


def x_of(t_ms: float, end_ms: float) -> int:
    return LEFT + int(t_ms / end_ms * (WIDTH - LEFT - RIGHT))


def draw(timeline: Timeline, path: Path) -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    pen = ImageDraw.Draw(image)
    pen.text((10, 8), f"call timeline, 0 – {timeline.end_ms:.0f} ms", fill=STOP)
    for lane, y in LANES.items():
        pen.text((10, y - 6), lane, fill=STOP)
    end = timeline.end_ms
    for start, stop in timeline.bot:
        pen.rectangle(
            (
                x_of(start, end),
                LANES["bot speech"] - 8,
                max(x_of(stop, end), x_of(start, end) + 2),
                LANES["bot speech"] + 8,
            ),
            fill=BOT,
        )
    for t in timeline.caller:
        pen.ellipse(
            (x_of(t, end) - 5, LANES["caller"] - 5, x_of(t, end) + 5, LANES["caller"] + 5), fill=CALLER
        )
    for t in timeline.barge_ins:
        pen.polygon(
            [
                (x_of(t, end), LANES["barge-in"] - 7),
                (x_of(t, end) - 6, LANES["barge-in"] + 6),
                (x_of(t, end) + 6, LANES["barge-in"] + 6),
            ],
            fill=BARGE,
        )
    for t in timeline.stops:
        pen.line(
            (x_of(t, end), LANES["stop_audio"] - 8, x_of(t, end), LANES["stop_audio"] + 8), fill=STOP, width=3
        )
    image.save(path, format="PNG")


def write(outcome: dict[str, Any], out_dir: Path) -> Path:
    path = out_dir / f"{outcome['call_id']}-timeline.png"
    draw(of_outcome(outcome), path)
    return path
