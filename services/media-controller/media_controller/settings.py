"""Configuration from the environment: one Settings object in sections, every variable named
MEDIA_CONTROLLER_<NAME> as it always was (the sections are for readers of the code, not new names).
The list is in services/media-controller/README.md."""

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from media_controller.barge_in import BargeInSettings
from media_controller.echo_guard import EchoGuardSettings
from media_controller.policy import parse_networks

PREFIX = "MEDIA_CONTROLLER_"
_DETECTOR = BargeInSettings()  # the barge-in detector's defaults: defined once, in barge_in.py


def _env(*names: str) -> AliasChoices:
    """The environment variable(s) a field reads, without the prefix."""
    return AliasChoices(*(PREFIX + name for name in names))


def _section(prefix: str = PREFIX) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, populate_by_name=True, extra="ignore")


class ServiceLink(BaseSettings):
    """The one WebSocket to the mediasoup service."""

    model_config = _section(PREFIX + "SERVICE_")

    url: str = Field(default="ws://127.0.0.1:3100/", validation_alias=_env("MEDIASOUP_URL"))
    secret: str = Field(default="", validation_alias=_env("MEDIASOUP_SECRET"))
    timeout: float = Field(default=2.0, gt=0)  # per attempt of a request (SERVICE_TIMEOUT)
    attempts: int = Field(default=3, ge=1)  # for idempotent methods only (SERVICE_ATTEMPTS)
    reconnect_max_delay: float = Field(default=2.0, gt=0, validation_alias=_env("RECONNECT_MAX_DELAY"))


class Vad(BaseSettings):
    """The caller's voice activity detection (webrtcvad on each 20 ms frame)."""

    model_config = _section(PREFIX + "VAD_")

    aggressiveness: int = Field(default=2, ge=0, le=3)
    # Consecutive voiced 20 ms frames that start speech: also the false-barge-in guard (a shorter
    # burst, like a cough or a click, never interrupts the bot).
    onset_frames: int = Field(default=4, ge=1)
    min_rms: float = Field(default=300.0, ge=0)  # ≈ -41 dBFS: quieter frames are never speech
    hangover_ms: int = Field(default=400, ge=20)  # unvoiced time that ends speech


_ECHO = EchoGuardSettings()  # the echo guard's defaults: defined once, in echo_guard.py


class BargeInEcho(BaseSettings):
    """The echo guard's numbers (`EchoGuardSettings`, same names), as MEDIA_CONTROLLER_BARGE_IN_ECHO_*."""

    model_config = _section(PREFIX + "BARGE_IN_ECHO_")

    threshold: float = Field(default=_ECHO.threshold, gt=0, le=1)
    frame_threshold: float = Field(default=_ECHO.frame_threshold, gt=0, le=1)
    min_delay_ms: float = Field(default=_ECHO.min_delay_ms, ge=0)
    max_delay_ms: float = Field(default=_ECHO.max_delay_ms, gt=0, le=1000)
    consistent_ms: float = Field(default=_ECHO.consistent_ms or 0.0, ge=0)  # 0: a match at any delay
    consistent_frames: int = Field(default=_ECHO.consistent_frames, ge=1, le=10)

    @field_validator("max_delay_ms")
    @classmethod
    def _window_is_a_window(cls, value: float, info: ValidationInfo) -> float:
        if value <= info.data.get("min_delay_ms", 0.0):
            raise ValueError("echo_max_delay_ms must exceed echo_min_delay_ms")
        return value

    def guard_settings(self) -> EchoGuardSettings:
        return EchoGuardSettings(**(self.model_dump() | {"consistent_ms": self.consistent_ms or None}))


class BargeIn(BaseSettings):
    """The barge-in decision on top of the VAD's voiced frames (docs/turn-taking.md): Silero VAD
    confirms the onset, the echo guard discounts the bot's own audio coming back. What each number
    means: `BargeInSettings` and `EchoGuardSettings`; the list: services/media-controller/README.md."""

    model_config = _section(PREFIX + "BARGE_IN_")

    silero_threshold: float = Field(default=_DETECTOR.silero_threshold or 0.0, ge=0, le=1)  # 0: off
    silero_reset_ms: float = Field(default=_DETECTOR.silero_reset_ms, ge=20)
    silero_every_frame: bool = _DETECTOR.silero_every_frame
    silero_min_relative_rms: float = Field(default=_DETECTOR.silero_min_relative_rms, ge=0, le=1)
    echo_guard: bool = _DETECTOR.echo_guard
    echo: BargeInEcho = Field(default_factory=BargeInEcho)
    rearm_ms: float = Field(default=_DETECTOR.rearm_ms, ge=0)
    # The service's AudioLevelObserver stops the bot on its own (it hears noise and echo as loud
    # as speech): off, its reports are only counted.
    audio_level: bool = False

    def detector_settings(self, vad: Vad) -> BargeInSettings:
        """The detector's: these, on the VAD's voicing test (the caller's VAD answers it per frame)."""
        return BargeInSettings(
            aggressiveness=vad.aggressiveness,
            onset_frames=vad.onset_frames,
            min_rms=vad.min_rms,
            silero_threshold=self.silero_threshold or None,
            silero_reset_ms=self.silero_reset_ms,
            silero_every_frame=self.silero_every_frame,
            silero_min_relative_rms=self.silero_min_relative_rms,
            echo_guard=self.echo_guard,
            echo=self.echo.guard_settings(),
            rearm_ms=self.rearm_ms,
        )


class CallerLegSettings(BaseSettings):
    model_config = _section()

    jitter_depth: int = Field(default=3, ge=0)  # packets held back waiting for a missing one
    audio_queue: int = Field(  # 20 ms frames buffered per call towards call-api
        default=100, ge=1, validation_alias=_env("CALLER_AUDIO_QUEUE")
    )
    audio_level_threshold: float = -50.0  # dBov, for the service's AudioLevelObserver


class BotLegSettings(BaseSettings):
    model_config = _section()

    opus_bitrate: int = 32000
    opus_complexity: int = Field(default=5, ge=0, le=10)  # libopus's: 10 costs ~2x for speech
    ssrc: int = Field(default=0x0B07_0001, validation_alias=_env("BOT_SSRC"))
    # Encoded bot audio kept for other calls playing the same audio (shared_encoding.py); 0: off.
    shared_encoding_slices: int = Field(default=20_000, ge=0)


class Policy(BaseSettings):
    """What a call may do with the media plane (docs/security.md)."""

    model_config = _section()

    # Where a client may send media (connectPlainTransport), CIDRs, comma-separated.
    gateway_networks: str = "127.0.0.1/32"
    # comedia latches a leg onto whoever sends first: off, the gateway connects its legs instead.
    allow_comedia: bool = False
    max_transports: int = Field(default=2, ge=1)  # per call
    max_producers: int = Field(default=1, ge=1)
    max_consumers: int = Field(default=2, ge=1)
    max_sessions: int = Field(default=200, ge=1)  # per controller: the RTP port range is finite
    signalling_rate: float = Field(default=20.0, gt=0)  # requests per second per call ...
    signalling_burst: float = Field(default=40.0, ge=1)  # ... with bursts up to this
    caller_rtp_pps: float = Field(default=150.0, gt=0)  # caller packets per second per call ...
    caller_rtp_burst: float = Field(default=300.0, ge=1)  # ... above which packets are dropped

    @field_validator("gateway_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value


class Tracing(BaseSettings):
    model_config = _section()

    # otlp | console | none; unset: otlp when an endpoint is known (this one or OTEL_EXPORTER_OTLP_ENDPOINT).
    exporter: str | None = Field(default=None, validation_alias=_env("TRACE_EXPORTER", "OTEL_EXPORTER"))
    otlp_endpoint: str | None = None


class Cluster(BaseSettings):
    """The controller registry (Redis) that call-api places calls from, and the drain on SIGTERM."""

    model_config = _section()

    redis_url: str = ""  # empty: no registry (call-api uses its configured controller URLs)
    # The base URL call-api reaches this controller at (on a host network: the node's IP and port);
    # empty: http://<host or this host's address>:<port>.
    advertise_url: str = ""
    controller_id: str = ""  # empty: <hostname>:<port>
    heartbeat_seconds: float = Field(default=2.0, gt=0)
    registry_ttl_seconds: float = Field(default=6.0, gt=0)  # > heartbeat: a dead controller expires
    # SIGTERM: refuse new sessions (draining), wait up to this long for the open ones to end, then
    # exit. 0 (the default, as before): SIGTERM closes the open sessions at once. Kubernetes sets 30.
    drain_grace_seconds: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _ttl_outlives_heartbeats(self) -> "Cluster":
        if self.registry_ttl_seconds <= self.heartbeat_seconds:
            raise ValueError("REGISTRY_TTL_SECONDS must be longer than HEARTBEAT_SECONDS")
        return self


class Settings(BaseSettings):
    model_config = _section()

    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port and log it ("event": "listening")
    rtp_ip: str = "127.0.0.1"  # where the controller's own RTP sockets listen
    log_level: str = "INFO"
    # A session without its events WebSocket is closed after this many seconds.
    orphan_timeout: float = Field(default=10.0, gt=0)
    # Every route but the probes and /metrics requires `Authorization: Bearer <api_secret>`.
    api_secret: str = ""

    service: ServiceLink = Field(default_factory=ServiceLink)
    vad: Vad = Field(default_factory=Vad)
    barge_in: BargeIn = Field(default_factory=BargeIn)
    caller: CallerLegSettings = Field(default_factory=CallerLegSettings)
    bot: BotLegSettings = Field(default_factory=BotLegSettings)
    tracing: Tracing = Field(default_factory=Tracing)
    policy: Policy = Field(default_factory=Policy)
    cluster: Cluster = Field(default_factory=Cluster)
