"""Prometheus metrics of the media-controller (served on /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

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
HTTP_REQUESTS = Counter(
    "media_http_requests_total",
    "Requests of call-api served, by method, route and status",
    ["method", "route", "status"],
)
SERVICE_REQUEST_SECONDS = Histogram(
    "media_service_request_seconds",
    "Commands to the mediasoup service, retries included, by method and outcome",
    ["method", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CALLER_FRAMES_DROPPED = Counter(
    "media_caller_frames_dropped_total", "Caller audio frames dropped (slow consumer)"
)
DTMF_DIGITS = Counter("media_dtmf_digits_total", "RFC 4733 DTMF digits detected in callers' RTP")
BOT_RTP_SEND_ERRORS = Counter(
    "media_bot_rtp_send_errors_total", "Bot RTP packets the socket refused (dropped; the stream goes on)"
)
CALLER_RTP_DROPPED = Counter(
    "media_caller_rtp_dropped_total", "Caller RTP packets dropped above the per-call rate limit (a flood)"
)
SIGNALLING_REFUSED = Counter(
    "media_signalling_rate_limited_total", "Signalling requests refused rate_limited (per-call limit)"
)
