"""One Settings object in sections, read from the environment variables it always read; the
README's settings and life-cycle tables match the code."""

import re
from pathlib import Path

import pytest
from media_controller.playback import PLAYBACK_STATES
from media_controller.service import LINK_STATES
from media_controller.session import SESSION_STATES
from media_controller.settings import Settings
from pydantic import ValidationError

# Every variable the controller has read (README.md lists them), and where its value lands.
ENVIRONMENT = {
    "HOST": ("0.0.0.0", lambda s: s.host),
    "PORT": ("8123", lambda s: s.port),
    "RTP_IP": ("127.0.0.2", lambda s: s.rtp_ip),
    "LOG_LEVEL": ("DEBUG", lambda s: s.log_level),
    "ORPHAN_TIMEOUT": ("4.5", lambda s: s.orphan_timeout),
    "API_SECRET": ("k" * 32, lambda s: s.api_secret),
    "MEDIASOUP_URL": ("ws://127.0.0.1:9/", lambda s: s.service.url),
    "MEDIASOUP_SECRET": ("s3cret", lambda s: s.service.secret),
    "SERVICE_TIMEOUT": ("0.5", lambda s: s.service.timeout),
    "SERVICE_ATTEMPTS": ("5", lambda s: s.service.attempts),
    "RECONNECT_MAX_DELAY": ("7", lambda s: s.service.reconnect_max_delay),
    "VAD_AGGRESSIVENESS": ("3", lambda s: s.vad.aggressiveness),
    "VAD_ONSET_FRAMES": ("6", lambda s: s.vad.onset_frames),
    "VAD_MIN_RMS": ("123", lambda s: s.vad.min_rms),
    "VAD_HANGOVER_MS": ("250", lambda s: s.vad.hangover_ms),
    "BARGE_IN_SILERO_THRESHOLD": ("0.5", lambda s: s.barge_in.silero_threshold),
    "BARGE_IN_SILERO_RESET_MS": ("200", lambda s: s.barge_in.silero_reset_ms),
    "BARGE_IN_SILERO_EVERY_FRAME": ("false", lambda s: str(s.barge_in.silero_every_frame).lower()),
    "BARGE_IN_SILERO_MIN_RELATIVE_RMS": ("0.3", lambda s: s.barge_in.silero_min_relative_rms),
    "BARGE_IN_ECHO_GUARD": ("false", lambda s: str(s.barge_in.echo_guard).lower()),
    "BARGE_IN_ECHO_THRESHOLD": ("0.7", lambda s: s.barge_in.echo.threshold),
    "BARGE_IN_ECHO_FRAME_THRESHOLD": ("0.95", lambda s: s.barge_in.echo.frame_threshold),
    "BARGE_IN_ECHO_MIN_DELAY_MS": ("20", lambda s: s.barge_in.echo.min_delay_ms),
    "BARGE_IN_ECHO_MAX_DELAY_MS": ("400", lambda s: s.barge_in.echo.max_delay_ms),
    "BARGE_IN_ECHO_CONSISTENT_MS": ("3", lambda s: s.barge_in.echo.consistent_ms),
    "BARGE_IN_REARM_MS": ("300", lambda s: s.barge_in.rearm_ms),
    "BARGE_IN_AUDIO_LEVEL": ("true", lambda s: str(s.barge_in.audio_level).lower()),
    "JITTER_DEPTH": ("5", lambda s: s.caller.jitter_depth),
    "CALLER_AUDIO_QUEUE": ("42", lambda s: s.caller.audio_queue),
    "AUDIO_LEVEL_THRESHOLD": ("-40", lambda s: s.caller.audio_level_threshold),
    "OPUS_BITRATE": ("24000", lambda s: s.bot.opus_bitrate),
    "OPUS_COMPLEXITY": ("9", lambda s: s.bot.opus_complexity),
    "SHARED_ENCODING_SLICES": ("0", lambda s: s.bot.shared_encoding_slices),
    "BOT_SSRC": ("4242", lambda s: s.bot.ssrc),
    "TRACE_EXPORTER": ("console", lambda s: s.tracing.exporter),
    "OTLP_ENDPOINT": ("http://127.0.0.1:4318", lambda s: s.tracing.otlp_endpoint),
    "GATEWAY_NETWORKS": ("203.0.113.0/24", lambda s: s.policy.gateway_networks),
    "ALLOW_COMEDIA": ("false", lambda s: str(s.policy.allow_comedia).lower()),
    "MAX_TRANSPORTS": ("3", lambda s: s.policy.max_transports),
    "MAX_PRODUCERS": ("2", lambda s: s.policy.max_producers),
    "MAX_CONSUMERS": ("3", lambda s: s.policy.max_consumers),
    "MAX_SESSIONS": ("50", lambda s: s.policy.max_sessions),
    "SIGNALLING_RATE": ("5", lambda s: s.policy.signalling_rate),
    "SIGNALLING_BURST": ("10", lambda s: s.policy.signalling_burst),
    "CALLER_RTP_PPS": ("100", lambda s: s.policy.caller_rtp_pps),
    "CALLER_RTP_BURST": ("200", lambda s: s.policy.caller_rtp_burst),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", lambda s: s.cluster.redis_url),
    "ADVERTISE_URL": ("http://10.0.0.5:8101", lambda s: s.cluster.advertise_url),
    "CONTROLLER_ID": ("node-a-1", lambda s: s.cluster.controller_id),
    "HEARTBEAT_SECONDS": ("1.5", lambda s: s.cluster.heartbeat_seconds),
    "REGISTRY_TTL_SECONDS": ("4.5", lambda s: s.cluster.registry_ttl_seconds),
    "DRAIN_GRACE_SECONDS": ("45", lambda s: s.cluster.drain_grace_seconds),
}


def test_every_variable_still_reaches_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (value, _) in ENVIRONMENT.items():
        monkeypatch.setenv(f"MEDIA_CONTROLLER_{name}", value)
    settings = Settings()
    for name, (value, read) in ENVIRONMENT.items():
        assert read(settings) == type(read(settings))(value), name


def test_defaults_and_the_old_exporter_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(f"MEDIA_CONTROLLER_{name}", raising=False)
    monkeypatch.setenv("MEDIA_CONTROLLER_OTEL_EXPORTER", "none")
    settings = Settings()
    assert (settings.port, settings.vad.onset_frames, settings.service.attempts) == (0, 4, 3)
    assert settings.tracing.exporter == "none"


def test_bounds_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_CONTROLLER_VAD_AGGRESSIVENESS", "4")
    with pytest.raises(ValidationError):
        Settings()


def test_a_registry_record_outlives_its_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_CONTROLLER_HEARTBEAT_SECONDS", "2")
    monkeypatch.setenv("MEDIA_CONTROLLER_REGISTRY_TTL_SECONDS", "2")
    with pytest.raises(ValidationError):
        Settings()


def test_the_readme_lists_every_variable() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    settings_part = readme[readme.index("## Settings") :]
    listed = set(re.findall(r"`([A-Z_]+)`", settings_part))
    assert set(ENVIRONMENT) <= listed, set(ENVIRONMENT) - listed


def test_the_readme_shows_the_life_cycles_as_coded() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for table in (SESSION_STATES, PLAYBACK_STATES, LINK_STATES):
        assert table.markdown() in readme, table.name
