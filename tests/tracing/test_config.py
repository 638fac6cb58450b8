"""The pieces under the end-to-end tests: where spans are exported, provider-stream spans, and the
gunicorn set-up of Prometheus multiprocess mode."""

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from call_api import telemetry
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from voicebot_tracing.otel import SAMPLER, otlp_traces_url, parent_context_for, resolve_exporter

from tests.support.callapi import CALL_API_DIR

# --- export endpoint --------------------------------------------------------------------------


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_endpoint_from_the_setting_then_the_standard_variables(no_otel_env: pytest.MonkeyPatch) -> None:
    assert otlp_traces_url(None) is None
    assert resolve_exporter(None, None) == ("none", None)
    assert resolve_exporter("otlp", None) == ("none", None)  # nowhere to send: off, with a warning
    assert otlp_traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert otlp_traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://std:4318")
    assert resolve_exporter(None, None) == ("otlp", "http://std:4318/v1/traces")
    assert resolve_exporter("none", None) == ("none", None)  # explicitly off stays off
    assert resolve_exporter(None, "http://own:4318") == ("otlp", "http://own:4318/v1/traces")
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom")
    assert otlp_traces_url(None) == "http://t:1/custom"
    assert resolve_exporter("console", None) == ("console", None)


def test_lone_client_spans_are_not_recorded_but_calls_always_are() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=SAMPLER)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("PING", kind=trace.SpanKind.CLIENT):  # a probe's Redis PING
        pass
    unsampled = parent_context_for("ab" * 16, f"00-{'ab' * 16}-{'cd' * 8}-00")
    with tracer.start_as_current_span("call", context=unsampled, kind=trace.SpanKind.SERVER):
        with tracer.start_as_current_span("SET", kind=trace.SpanKind.CLIENT):
            pass
    with tracer.start_as_current_span("job"):  # an INTERNAL root is kept
        pass
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["SET", "call", "job"]


# --- spans of provider streams ----------------------------------------------------------------


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """telemetry's tracer on a provider of this test's own (the global one is set once per process)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "tracer", provider.get_tracer("test"))
    return exporter


async def test_a_stream_span_covers_the_stream_and_nests_the_provider_work(
    spans: InMemorySpanExporter,
) -> None:
    inner_tracer = telemetry.tracer

    async def provider() -> AsyncIterator[str]:
        for word in ("one", "two"):
            with inner_tracer.start_as_current_span("http"):
                await asyncio.sleep(0)
            yield word

    firsts: list[float] = []
    got = [w async for w in telemetry.traced_stream("tts", provider(), on_first=firsts.append)]
    assert got == ["one", "two"]
    assert len(firsts) == 1 and firsts[0] >= 0
    finished = {s.name: s for s in spans.get_finished_spans()}
    stream = next(s for s in spans.get_finished_spans() if s.name == "tts")
    https = [s for s in spans.get_finished_spans() if s.name == "http"]
    assert len(https) == 2
    assert all(h.parent is not None and h.parent.span_id == stream.context.span_id for h in https)
    assert finished["tts"].attributes["items"] == 2
    assert "stream.cancelled" not in finished["tts"].attributes
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


async def test_closing_a_stream_midway_ends_its_span_and_closes_the_provider(
    spans: InMemorySpanExporter,
) -> None:
    closed = asyncio.Event()

    async def provider() -> AsyncIterator[int]:
        try:
            for i in range(100):
                yield i
        finally:
            closed.set()

    stream = telemetry.traced_stream("dialog.reply", provider())
    assert await anext(stream) == 0
    await stream.aclose()  # what _with_timeout does on a barge-in
    assert closed.is_set()
    [span] = spans.get_finished_spans()
    assert span.attributes["stream.cancelled"] is True and span.attributes["items"] == 1


async def test_a_cancelled_provider_step_is_not_an_error(spans: InMemorySpanExporter) -> None:
    started = asyncio.Event()

    async def provider() -> AsyncIterator[int]:
        started.set()
        await asyncio.Event().wait()
        yield 1

    async def consume() -> None:
        async for _ in telemetry.traced_stream("tts", provider()):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [span] = spans.get_finished_spans()
    assert span.attributes["stream.cancelled"] is True
    assert span.status.status_code is trace.StatusCode.UNSET


# --- gunicorn and Prometheus multiprocess mode ------------------------------------------------

_LOAD_CONF = """
import os, runpy, sys
runpy.run_path("gunicorn.conf.py")
print(os.environ["PROMETHEUS_MULTIPROC_DIR"])
print("prometheus_client" in sys.modules)
"""


def _load_conf(env: dict[str, str]) -> tuple[Path, bool]:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_CONF],
        cwd=CALL_API_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return Path(out[0]), out[1] == "True"


def test_gunicorn_conf_gives_each_instance_a_metrics_directory(tmp_path: Path) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    own, imported = _load_conf(base)
    try:
        assert own.is_dir() and own.name.startswith("call-api-metrics-")
        # prometheus_client reads the variable when imported: it must not be imported before.
        assert not imported
        again, _ = _load_conf(base)
        assert again != own  # a fresh one per instance
        again.rmdir()
    finally:
        own.rmdir()

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    (given / "keep.txt").write_text("not ours")
    assert _load_conf({**base, "PROMETHEUS_MULTIPROC_DIR": str(given)})[0] == given
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]  # stale values are not counted
