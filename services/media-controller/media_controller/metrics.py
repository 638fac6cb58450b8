"""Prometheus metrics of the media-controller (served on /metrics)."""

from prometheus_client import Counter, Gauge

SESSIONS_ACTIVE = Gauge("media_sessions_active", "Open media sessions")
SESSIONS_OPENED = Counter("media_sessions_opened_total", "Media sessions opened")
PLAYBACKS_ACTIVE = Gauge("media_playbacks_active", "Playbacks currently sending RTP")
PLAYBACKS = Counter("media_playbacks_total", "Playbacks finished", ["stopped"])
BARGE_INS = Counter("media_barge_ins_total", "Barge-ins reported to call-api", ["source"])
MEDIA_FAILURES = Counter("media_failures_total", "media_failure events sent to calls", ["reason"])
SERVICE_RETRIES = Counter("media_service_retries_total", "Retried mediasoup service requests", ["method"])
SERVICE_RECONNECTS = Counter(
    "media_service_reconnects_total", "Connections (re)established to the mediasoup service"
)
CALLER_FRAMES_DROPPED = Counter(
    "media_caller_frames_dropped_total", "Caller audio frames dropped (slow consumer)"
)
