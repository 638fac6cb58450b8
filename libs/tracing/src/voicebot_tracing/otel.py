"""OpenTelemetry, set up once per process. The call's X-Trace-ID is the OTel trace id."""

import logging
import secrets

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

log = logging.getLogger(__name__)
_configured = False


def _exporter(kind: str, endpoint: str | None) -> SpanExporter | None:
    if kind == "otlp" and endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    if kind == "console":
        return ConsoleSpanExporter()
    return None


def setup_tracing(service: str, exporter: str = "none", otlp_endpoint: str | None = None) -> TracerProvider:
    """exporter: "otlp" (http/protobuf to otlp_endpoint), "console" or "none"."""
    global _configured
    provider = trace.get_tracer_provider()
    if _configured and isinstance(provider, TracerProvider):
        return provider
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    span_exporter = _exporter(exporter, otlp_endpoint)
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing configured", extra={"exporter": exporter if span_exporter else "none"})
    return provider


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
    return f"00-{span_ctx.trace_id:032x}-{span_ctx.span_id:016x}-{int(span_ctx.trace_flags):02x}"
