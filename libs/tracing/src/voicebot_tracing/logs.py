"""JSON logs: one object per line with ts, level, service, logger, message, trace_id, call_id
(null outside a call), and span_id when a span is current."""

import json
import logging
import os
import re
import sys
import time
from typing import Any

from voicebot_tracing.context import current_call_id, current_trace_id
from voicebot_tracing.otel import current_span_ids

# Credentials that reach a log line inside a URL (uvicorn logs a WebSocket's path with its query):
# `?token=<credential>` and `Authorization: Bearer <credential>` are written as [redacted].
_CREDENTIAL = re.compile(r"((?:[?&]token=)|(?:[Bb]earer\s+))[^&\s\"']+")


def redact(text: str) -> str:
    return _CREDENTIAL.sub(r"\1[redacted]", text)


_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        span_ids = current_span_ids()
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "trace_id": getattr(record, "trace_id", None)
            or current_trace_id()
            or (span_ids[0] if span_ids else None),
            "call_id": getattr(record, "call_id", None) or current_call_id(),
            "pid": record.process,
        }
        if span_ids is not None and span_ids[0] == entry["trace_id"]:
            entry["span_id"] = span_ids[1]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str | None = None) -> None:
    """Route every logger (ours, uvicorn's, gunicorn's, aiohttp's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    for name in (
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "gunicorn.error",
        "gunicorn.access",
        "aiohttp",
    ):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
