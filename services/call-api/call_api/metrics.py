"""Prometheus metrics of the call-api, served on GET /metrics.

gunicorn runs several worker processes; each keeps its own values. gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a per-instance directory before any worker starts, so every worker
writes its values there (prometheus_client multiprocess mode) and /metrics, whichever worker answers,
aggregates all of them. Without that variable (tests in-process, a single uvicorn) the process's own
registry is served."""

import os
import time

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Voice latencies: tens of milliseconds to several seconds.
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

ACTIVE_CALLS = Gauge("callapi_active_calls", "Calls accepted and not yet closed", multiprocess_mode="livesum")
CALLS = Counter(
    "callapi_calls_total",
    "Calls finished, by outcome (ended: after call_accepted; refused: call_failed before) and reason",
    ["outcome", "reason"],
)
STT_FINAL = Histogram(
    "callapi_stt_final_seconds",
    "End of the caller's speech → the final transcript",
    buckets=_LATENCY_BUCKETS,
)
FIRST_TEXT = Histogram(
    "callapi_dialog_first_text_seconds",
    "Reply asked of the dialog (LLM or scenario) → its first text chunk (first token)",
    buckets=_LATENCY_BUCKETS,
)
FIRST_AUDIO = Histogram(
    "callapi_tts_first_audio_seconds",
    "First sentence sent to TTS (or its cache) → its first audio chunk",
    buckets=_LATENCY_BUCKETS,
)
RESPONSE = Histogram(
    "callapi_turn_response_seconds",
    "End of the caller's speech → the bot's reply audio starts towards the media plane",
    buckets=_LATENCY_BUCKETS,
)
SERVER_OVERHEAD = Histogram(
    "callapi_server_overhead_seconds",
    "turn response time minus STT final, dialog first text and TTS first audio: our own share",
    buckets=_LATENCY_BUCKETS,
)
BARGE_INS = Counter("callapi_barge_ins_total", "Bot replies interrupted by the caller")
RESUMES = Counter(
    "callapi_resumes_total", "Interrupted replies resumed: a backchannel or no words followed the stop"
)
PROVIDER_ERRORS = Counter(
    "callapi_provider_errors_total", "Provider failures seen by the orchestrator", ["provider"]
)
PROVIDER_RETRIES = Counter(
    "callapi_provider_retries_total", "Provider steps retried after a failure (filler played)", ["provider"]
)
CACHE_LOOKUPS = Counter(
    "callapi_cache_lookups_total", "Cache lookups by cache and result", ["cache", "result"]
)
AUTH_REFUSALS = Counter(
    "callapi_auth_refusals_total", "Handshakes and token requests refused, by code", ["code"]
)
REDIS_DEGRADED = Gauge(
    "callapi_redis_degraded",
    "1 while Redis is unreachable and the cache is bypassed (degraded mode)",
    multiprocess_mode="livemax",
)


def render() -> bytes:
    """The exposition text: every worker's values in multiprocess mode, else this process's."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    return Response(content=render(), media_type=CONTENT_TYPE_LATEST)


def auth_refused(code: str) -> None:
    AUTH_REFUSALS.labels(code=code if code in ("unauthorized", "forbidden_origin") else "other").inc()


def provider_label(provider: str) -> str:
    """A bounded label value: "tts", "stt", "dialog", ... or "timeout"."""
    head = provider.split()[0].split(":")[0].lower()
    return "timeout" if "timeout" in provider else (head or "unknown")[:32]


class TurnTimer:
    """The latencies of one bot reply. `speech_end` (monotonic) and `stt_seconds` come from the
    caller's utterance it answers; the greeting has none, so it records no response/overhead."""

    def __init__(self, speech_end: float | None = None, stt_seconds: float = 0.0) -> None:
        self.speech_end = speech_end
        self.stt_seconds = stt_seconds
        self.text_seconds: float | None = None
        self.audio_seconds: float | None = None
        self.done = False

    def first_text(self, seconds: float) -> None:
        if self.text_seconds is None:
            self.text_seconds = seconds
            FIRST_TEXT.observe(seconds)

    def first_audio(self, seconds: float) -> None:
        if self.audio_seconds is None:
            self.audio_seconds = seconds
            FIRST_AUDIO.observe(seconds)

    def playing(self) -> None:
        """The reply's first audio goes to the media plane now."""
        if self.done or self.speech_end is None:
            return
        self.done = True
        response = time.monotonic() - self.speech_end
        RESPONSE.observe(response)
        providers = self.stt_seconds + (self.text_seconds or 0.0) + (self.audio_seconds or 0.0)
        SERVER_OVERHEAD.observe(max(0.0, response - providers))
