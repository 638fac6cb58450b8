"""Tracing and logging shared by every Python service: JSON logs carrying trace_id
and call_id (contextvars), trace-id helpers, and OpenTelemetry set up once per process; and the
process's C heap upkeep after bursts of calls (`voicebot_tracing.heap`, imported by itself)."""

from voicebot_tracing.context import bind_call, current_call_id, current_trace_id
from voicebot_tracing.ids import (
    is_valid_trace_id,
    make_traceparent,
    new_span_id,
    new_trace_id,
    normalize_trace_id,
    trace_id_of_traceparent,
)
from voicebot_tracing.logs import setup_logging
from voicebot_tracing.otel import (
    flush_tracing,
    otlp_traces_url,
    parent_context_for,
    setup_tracing,
    traceparent_for,
)

__all__ = [
    "bind_call",
    "current_call_id",
    "current_trace_id",
    "flush_tracing",
    "is_valid_trace_id",
    "make_traceparent",
    "new_span_id",
    "new_trace_id",
    "normalize_trace_id",
    "otlp_traces_url",
    "parent_context_for",
    "setup_logging",
    "setup_tracing",
    "trace_id_of_traceparent",
    "traceparent_for",
]
