"""OpenTelemetry, set up once per process. The call's X-Trace-ID is the OTel trace id.

Export: OTLP http/protobuf when an endpoint is known — the service's own setting, else the
standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT — and off otherwise.
Spans leave in batches at most EXPORT_DELAY_MS after they end, and on shutdown (flush_tracing)."""

import logging
import os
import secrets
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.util.types import Attributes

from voicebot_tracing.ids import make_traceparent

log = logging.getLogger(__name__)
_configured = False

EXPORT_DELAY_MS = 500
TRACES_PATH = "/v1/traces"


def otlp_traces_url(endpoint: str | None = None) -> str | None:
    """Where OTLP/HTTP spans go: `endpoint` (a base URL, or a full .../v1/traces URL), else the
    standard environment variables; None if none is set."""
    if endpoint:
        base = endpoint.rstrip("/")
        return base if base.endswith(TRACES_PATH) else base + TRACES_PATH
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces  # the spec of this variable: used exactly as given
    common = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if common:
        return common.rstrip("/") + TRACES_PATH
    return None


def resolve_exporter(kind: str | None, endpoint: str | None) -> tuple[str, str | None]:
    """(exporter kind, OTLP traces URL). kind None/"" means: "otlp" if an endpoint is known, else "none"."""
    url = otlp_traces_url(endpoint)
    chosen = (kind or "").strip().lower() or ("otlp" if url else "none")
    if chosen == "otlp" and url is None:
        log.warning("OTLP exporter chosen without an endpoint; spans are not exported")
        return "none", None
    return chosen, url if chosen == "otlp" else None


class NoLoneClientSpans(Sampler):
    """Root sampler: a CLIENT span with no parent (a Redis PING of a readiness probe, the filler's
    cache lookup at start-up, any request made outside a call) is not recorded; every other root
    is. The call's own spans always have a parent (the gateway's, remote), so nothing of a call is
    lost, and Jaeger is not flooded with one-span traces of probes."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind in (SpanKind.CLIENT, SpanKind.PRODUCER):
            return SamplingResult(Decision.DROP, None, trace_state)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "NoLoneClientSpans"


# A call is always traced, even when the caller's traceparent says "not sampled" (flags 00): the
# spec wants every call followed end to end; our own decisions are passed on as they are.
SAMPLER = ParentBased(root=NoLoneClientSpans(), remote_parent_not_sampled=ALWAYS_ON)


def _exporter(kind: str, url: str | None) -> SpanExporter | None:
    if kind == "otlp" and url:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=url, timeout=5)
    if kind == "console":
        return ConsoleSpanExporter()
    return None


def setup_tracing(
    service: str, exporter: str | None = None, otlp_endpoint: str | None = None
) -> TracerProvider:
    """exporter: "otlp" (http/protobuf), "console", "none", or None (otlp if an endpoint is known)."""
    global _configured
    provider = trace.get_tracer_provider()
    if _configured and isinstance(provider, TracerProvider):
        return provider
    kind, url = resolve_exporter(exporter, otlp_endpoint)
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=SAMPLER)
    span_exporter = _exporter(kind, url)
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=EXPORT_DELAY_MS))
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing configured", extra={"exporter": kind if span_exporter else "none", "endpoint": url})
    return provider


def flush_tracing(timeout_s: float = 5.0) -> None:
    """Export the spans still queued (at shutdown; the SDK's atexit hook is a second chance)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(int(timeout_s * 1000))


def parent_context_for(trace_id: str, traceparent: str | None = None) -> Context:
    """The parent context of a call's first span: the incoming traceparent if it carries
    this trace id, else a remote parent with this trace id, so the call never starts a new root."""
    if traceparent:
        ctx = extract({"traceparent": traceparent})
        span_ctx = trace.get_current_span(ctx).get_span_context()
        if span_ctx.is_valid and f"{span_ctx.trace_id:032x}" == trace_id:
            return ctx
    remote = SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


def traceparent_for(span: trace.Span | None = None) -> str | None:
    """The W3C traceparent of a span (default: the current one), for outgoing requests."""
    span_ctx = (span or trace.get_current_span()).get_span_context()
    if not span_ctx.is_valid:
        return None
    return make_traceparent(
        f"{span_ctx.trace_id:032x}", f"{span_ctx.span_id:016x}", sampled=span_ctx.trace_flags.sampled
    )


def current_span_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span, hex; None outside any span."""
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return None
    return f"{span_ctx.trace_id:032x}", f"{span_ctx.span_id:016x}"
