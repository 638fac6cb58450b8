"""tracewaterfall: spans exported over real OTLP/HTTP (the Python SDK's protobuf exporter and the
mediasoup service's JS tracer, JSON, chunked) to its local receiver, rendered as one call's
waterfall; the PNG is checked against the layout it was drawn from, pixel by pixel per bar."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from PIL import Image
from voicebot_stack.paths import MEDIASOUP_DIR
from voicebot_stack.paths import node_bin as mediasoup_node_bin
from voicebot_tracewaterfall import layout, spans
from voicebot_tracewaterfall.__main__ import render
from voicebot_tracewaterfall.receiver import Receiver

from tests.support.procs import wait_until

NODE_EXPORT = """
const { createTracer } = require('./lib/tracing');
const tracer = createTracer({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: process.argv[1] } });
const attributes = { 'call.id': 'c-1' };
const span = tracer.startSpan('session.open', { traceparent: process.argv[2], attributes });
setTimeout(async () => { span.end(); await tracer.flush(); }, 30);
"""


def export_call(url: str, call_id: str) -> str:
    """A call's spans from call-api (Python SDK, protobuf); returns the trace id and traceparent."""
    provider = TracerProvider(resource=Resource.create({"service.name": "call-api"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("call", attributes={"call.id": call_id}) as call:
        with tracer.start_as_current_span("user_turn") as turn:
            with tracer.start_as_current_span("stt") as stt:
                time.sleep(0.02)
                stt.set_attribute("first_item_ms", 20.0)
            with tracer.start_as_current_span("dialog.reply") as reply:
                time.sleep(0.01)
                reply.set_attribute("first_item_ms", 10.0)
            ctx = turn.get_span_context()
            traceparent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01"
        trace_id = f"{call.get_span_context().trace_id:032x}"
    provider.shutdown()
    return trace_id + " " + traceparent


@pytest.fixture
def receiver(tmp_path: Path):
    r = Receiver(tmp_path / "spans.jsonl", port=0).start()
    yield r
    r.stop()


def test_one_calls_waterfall_from_real_exports(receiver: Receiver, tmp_path: Path) -> None:
    other_trace, _ = export_call(receiver.url, "c-0").split()
    trace_id, traceparent = export_call(receiver.url, "c-1").split()
    node = subprocess.run(
        [mediasoup_node_bin(), "-e", NODE_EXPORT, receiver.url, traceparent],
        cwd=MEDIASOUP_DIR,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert node.returncode == 0, node.stderr
    store = receiver.store
    wait_until(lambda: sum(1 for s in spans.load(store) if s.service == "mediasoup") == 1, 10, "the JS span")

    html_path, png_path = render(store, tmp_path / "out", call_id="c-1")

    chosen = spans.of_call(spans.load(store), call_id="c-1")
    assert {s.trace_id for s in chosen} == {trace_id} != {other_trace}
    assert {s.name for s in chosen} == {"call", "user_turn", "stt", "dialog.reply", "session.open"}
    waterfall = layout.lay_out(chosen)
    assert png_path.name == f"trace-{trace_id}.png"

    image = Image.open(png_path).convert("RGB")
    assert image.size == (layout.WIDTH, waterfall.height)
    assert len(waterfall.rows) == 5
    for row in waterfall.rows:
        left, top, right, bottom = row.box
        middle = ((left + right) // 2, (top + bottom) // 2)
        assert image.getpixel(middle) == row.color, f"{row.span.name}: no bar where it was laid out"
        # Beyond the bar's end on its row (before any text) the background shows.
        if right + 2 < layout.WIDTH:
            assert image.getpixel((right + 2, bottom)) == layout.BACKGROUND
    # Rows follow the call: parents before children, the JS span under the turn it came from.
    names = [r.span.name for r in waterfall.rows]
    assert names[0] == "call" and names.index("user_turn") < names.index("session.open")
    assert len(waterfall.services) == 2  # call-api and mediasoup: two colours
    assert len(set(waterfall.services.values())) == 2

    page = html_path.read_text()
    assert f"trace {trace_id}" in page and other_trace not in page
    assert "stt first item 20.0 ms" in page and "dialog.reply first item 10.0 ms" in page
    assert json.loads(json.dumps(layout.turn_latencies(chosen)))[0]["turn"] == "user_turn"


def test_a_waterfall_is_one_trace(receiver: Receiver) -> None:
    export_call(receiver.url, "a")
    export_call(receiver.url, "b")
    with pytest.raises(ValueError, match="one trace"):
        layout.lay_out(spans.load(receiver.store))


def test_an_export_it_cannot_read_is_refused_and_the_next_one_is_kept(receiver: Receiver) -> None:
    def post(path: str, body: bytes, kind: str) -> int:
        request = urllib.request.Request(
            receiver.url + path, data=body, headers={"Content-Type": kind}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as refused:
            return refused.code

    assert post("/v1/traces", b"\xff\x00 not protobuf", "application/x-protobuf") == 400
    assert post("/v1/traces", b"{not json", "application/json") == 400
    assert post("/v1/metrics", b"{}", "application/json") == 404
    assert not receiver.store.exists() or spans.load(receiver.store) == []
    trace_id, _ = export_call(receiver.url, "c-2").split()
    assert {s.trace_id for s in spans.load(receiver.store)} == {trace_id}
    assert {s.kind for s in spans.load(receiver.store) if s.name == "call"} == {1}  # internal
