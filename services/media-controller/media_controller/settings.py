"""Configuration from the environment (prefix MEDIA_CONTROLLER_)."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIA_CONTROLLER_", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port and log it ("event": "listening")
    mediasoup_url: str = "ws://127.0.0.1:3100/"
    mediasoup_secret: str = ""
    rtp_ip: str = "127.0.0.1"  # where the controller's own RTP sockets listen
    log_level: str = "INFO"

    service_timeout: float = Field(default=2.0, gt=0)  # per attempt of a mediasoup service request
    service_attempts: int = Field(default=3, ge=1)  # for idempotent methods only
    reconnect_max_delay: float = Field(default=2.0, gt=0)

    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    # Consecutive voiced 20 ms frames that start speech: also the false-barge-in guard (a shorter
    # burst, like a cough or a click, never interrupts the bot).
    vad_onset_frames: int = Field(default=4, ge=1)
    vad_min_rms: float = Field(default=300.0, ge=0)  # ≈ -41 dBFS: quieter frames are never speech
    vad_hangover_ms: int = Field(default=400, ge=20)  # unvoiced time that ends speech
    jitter_depth: int = Field(default=3, ge=0)  # packets held back waiting for a missing one
    caller_audio_queue: int = Field(default=100, ge=1)  # 20 ms frames buffered per call towards call-api
    audio_level_threshold: float = -50.0  # dBov, for the service's AudioLevelObserver
    orphan_timeout: float = Field(
        default=10.0, gt=0
    )  # a session without its events WebSocket is closed after this
    opus_bitrate: int = 32000
    bot_ssrc: int = 0x0B07_0001

    # otlp | console | none; unset: otlp when an endpoint is known (this one or OTEL_EXPORTER_OTLP_ENDPOINT).
    trace_exporter: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MEDIA_CONTROLLER_TRACE_EXPORTER", "MEDIA_CONTROLLER_OTEL_EXPORTER"),
    )
    otlp_endpoint: str | None = None
