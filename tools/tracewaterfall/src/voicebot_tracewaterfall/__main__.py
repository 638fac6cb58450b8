"""tracewaterfall serve [--port 4318] [--store spans.jsonl]
tracewaterfall render [--store spans.jsonl] [--trace ID | --call-id ID] [--out DIR]

serve: a local OTLP/HTTP receiver; start `make up` with OTEL_EXPORTER_OTLP_ENDPOINT at it.
render: one call's spans (the newest trace by default) → DIR/trace-<id>.html and .png."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from voicebot_tracewaterfall import draw, layout, spans
from voicebot_tracewaterfall.receiver import Receiver


def render(
    store: Path, out: Path, trace_id: str | None = None, call_id: str | None = None
) -> tuple[Path, Path]:
    chosen = spans.of_call(spans.load(store), trace_id=trace_id, call_id=call_id)
    waterfall = layout.lay_out(chosen)
    out.mkdir(parents=True, exist_ok=True)
    png_path = out / f"trace-{waterfall.trace_id}.png"
    html_path = out / f"trace-{waterfall.trace_id}.html"
    draw.png(waterfall, png_path)
    html_path.write_text(draw.page(waterfall, chosen, png_path.name))
    return html_path, png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracewaterfall")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser("serve")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=4318)
    serve_p.add_argument("--store", type=Path, default=Path("spans.jsonl"))
    render_p = sub.add_parser("render")
    render_p.add_argument("--store", type=Path, default=Path("spans.jsonl"))
    render_p.add_argument("--trace")
    render_p.add_argument("--call-id")
    render_p.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    if args.command == "serve":
        receiver = Receiver(args.store, args.host, args.port).start()
        print(json.dumps({"event": "listening", "url": receiver.url, "store": str(args.store)}), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        receiver.stop()
        return 0
    html_path, png_path = render(args.store, args.out, args.trace, args.call_id)
    print(json.dumps({"event": "rendered", "html": str(html_path), "png": str(png_path)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
