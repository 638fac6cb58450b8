"""Where each span goes in the waterfall: rows in call order (parents before children), a bar
from its start to its end on one time axis, a colour per service. The HTML and the PNG are both
drawn from this one layout, so a test can check a picture against the data it was drawn from."""

from __future__ import annotations

from dataclasses import dataclass

from voicebot_tracewaterfall.spans import Span

WIDTH = 1400
LABEL_WIDTH = 420
ROW_HEIGHT = 22
HEADER_HEIGHT = 56
BAR_INSET = 4
BACKGROUND = (255, 255, 255)
PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)]


@dataclass(frozen=True)
class Row:
    span: Span
    depth: int
    start_ms: float
    box: tuple[int, int, int, int]  # left, top, right, bottom of the bar, in pixels
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Waterfall:
    trace_id: str
    total_ms: float
    rows: list[Row]
    services: dict[str, tuple[int, int, int]]
    height: int


def _tree_order(spans: list[Span]) -> list[tuple[Span, int]]:
    ids = {s.span_id for s in spans}
    children: dict[str, list[Span]] = {}
    for s in spans:
        children.setdefault(s.parent_span_id if s.parent_span_id in ids else "", []).append(s)
    ordered: list[tuple[Span, int]] = []

    def walk(parent: str, depth: int) -> None:
        for child in sorted(children.get(parent, []), key=lambda s: (s.start_ns, s.name)):
            ordered.append((child, depth))
            walk(child.span_id, depth + 1)

    walk("", 0)
    return ordered


def lay_out(spans: list[Span]) -> Waterfall:
    trace_ids = {s.trace_id for s in spans}
    if len(trace_ids) != 1:
        raise ValueError(f"a waterfall is one trace, got {len(trace_ids)}")
    t0 = min(s.start_ns for s in spans)
    total_ms = max(max(s.end_ns for s in spans) - t0, 1) / 1e6
    scale = (WIDTH - LABEL_WIDTH - 20) / total_ms
    services: dict[str, tuple[int, int, int]] = {}
    rows = []
    for i, (span, depth) in enumerate(_tree_order(spans)):
        color = services.setdefault(span.service, PALETTE[len(services) % len(PALETTE)])
        start_ms = (span.start_ns - t0) / 1e6
        left = LABEL_WIDTH + int(start_ms * scale)
        right = max(left + 2, LABEL_WIDTH + int((start_ms + span.duration_ms) * scale))
        top = HEADER_HEIGHT + i * ROW_HEIGHT + BAR_INSET
        rows.append(Row(span, depth, start_ms, (left, top, right, top + ROW_HEIGHT - 2 * BAR_INSET), color))
    height = HEADER_HEIGHT + len(rows) * ROW_HEIGHT + 20
    return Waterfall(trace_ids.pop(), total_ms, rows, services, height)


def turn_latencies(spans: list[Span]) -> list[dict[str, object]]:
    """Per turn (call-api's user_turn / bot_turn spans, in order): its duration and the first-item
    latency (first_item_ms) of each provider step under it."""
    by_parent: dict[str, list[Span]] = {}
    for s in spans:
        by_parent.setdefault(s.parent_span_id, []).append(s)
    turns = sorted((s for s in spans if s.name in ("user_turn", "bot_turn")), key=lambda s: s.start_ns)
    out: list[dict[str, object]] = []
    for turn in turns:
        steps = {c.name: c.attributes.get("first_item_ms") for c in by_parent.get(turn.span_id, [])}
        out.append(
            {"turn": turn.name, "ms": round(turn.duration_ms, 1), **{k: v for k, v in steps.items() if v}}
        )
    return out
