"""The waterfall as PNG (Pillow) and as a self-contained HTML page, both from one layout."""

from __future__ import annotations

import html
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from voicebot_tracewaterfall.layout import BACKGROUND, LABEL_WIDTH, WIDTH, Row, Waterfall, turn_latencies
from voicebot_tracewaterfall.spans import Span


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSansMono.ttf", size)
    except OSError:
        return ImageFont.load_default()


def png(waterfall: Waterfall, path: Path) -> None:
    image = Image.new("RGB", (WIDTH, waterfall.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, title = _font(11), _font(14)
    draw.text(
        (10, 8), f"trace {waterfall.trace_id}  ({waterfall.total_ms:.1f} ms)", fill=(0, 0, 0), font=title
    )
    x = 10
    for service, color in waterfall.services.items():
        draw.rectangle((x, 32, x + 12, 44), fill=color)
        draw.text((x + 16, 32), service, fill=(0, 0, 0), font=small)
        x += 30 + int(draw.textlength(service, font=small))
    for row in waterfall.rows:
        left, top, right, _ = row.box
        label = f"{'  ' * row.depth}{row.span.service}: {row.span.name}"
        draw.text((10, top), label[:58], fill=(0, 0, 0), font=small)
        draw.rectangle(row.box, fill=row.color)
        timing = f"+{row.start_ms:.1f} ms  {row.span.duration_ms:.1f} ms"
        text_x = right + 4 if right + 4 + draw.textlength(timing, font=small) < WIDTH else left - 4
        anchor = "la" if text_x > right else "ra"
        draw.text((text_x, top), timing, fill=(60, 60, 60), font=small, anchor=anchor)
    draw.line((LABEL_WIDTH, 50, LABEL_WIDTH, waterfall.height), fill=(200, 200, 200))
    image.save(path, format="PNG")


def _row_html(row: Row, total_ms: float) -> str:
    left = 100 * row.start_ms / total_ms
    width = max(0.2, 100 * row.span.duration_ms / total_ms)
    style = f"margin-left:{left:.2f}%;width:{width:.2f}%;background:rgb{row.color}"
    bar = f"<div class='bar' style='{style}'></div>"
    return (
        f"<tr><td>{html.escape(row.span.service)}</td>"
        f"<td style='padding-left:{row.depth}em'>{html.escape(row.span.name)}</td>"
        f"<td>{row.start_ms:.1f}</td><td>{row.span.duration_ms:.1f}</td><td>{bar}</td></tr>"
    )


def page(waterfall: Waterfall, spans: list[Span], png_name: str | None) -> str:
    rows = "\n".join(_row_html(r, waterfall.total_ms) for r in waterfall.rows)
    turns = "\n".join(
        f"<tr><td>{html.escape(str(t['turn']))}</td><td>{t['ms']}</td><td>"
        + html.escape(", ".join(f"{k} first item {v} ms" for k, v in t.items() if k not in ("turn", "ms")))
        + "</td></tr>"
        for t in turn_latencies(spans)
    )
    picture = f"<p><img src='{html.escape(png_name)}' alt='waterfall'></p>" if png_name else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>trace {waterfall.trace_id}</title>
<style>body{{font-family:sans-serif}} td{{font-size:12px;padding:1px 6px;white-space:nowrap}}
td:last-child{{width:60%}} .bar{{height:12px}}</style></head><body>
<h1>trace {waterfall.trace_id}</h1><p>{len(waterfall.rows)} spans, {waterfall.total_ms:.1f} ms</p>
<h2>Turn latencies</h2><table><tr><th>turn</th><th>ms</th><th>provider steps</th></tr>
{turns}</table>
<h2>Spans</h2><table><tr><th>service</th><th>span</th><th>start ms</th><th>duration ms</th><th></th></tr>
{rows}</table>{picture}</body></html>
"""
