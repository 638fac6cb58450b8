"""call-api's one Settings object, read from the environment (prefix CALL_API_).

Nested sections group the knobs by the part that reads them (`settings.cache.redis_url`,
`settings.orchestrator.provider_timeout`, ...), while every environment variable keeps its flat
name (CALL_API_REDIS_URL, CALL_API_PROVIDER_TIMEOUT, ...): each section reads the environment
itself with the same prefix. The providers' choice stays in call_api.providers.config
(ProviderSettings, the same prefix), read where the providers are made."""

import socket
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from call_api.auth.keys import parse_gateway_keys

DEFAULT_FACTORY = "call_api.orchestrator.factory:create_orchestrator_instance"
ENV_PREFIX = "CALL_API_"


class CacheSettings(BaseSettings):
    """Redis: the call registry, the TTS cache, the filler."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    tts_cache_ttl: int = 24 * 3600
    # Audio of text that carries the call's variables (the caller's name...): not kept by default.
    tts_personal_cache_ttl: int = Field(default=0, ge=0)


class MediaSettings(BaseSettings):
    """The media-controller, and how long the greeting waits for the gateway's bot leg."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # One controller's base URL, or several comma-separated: the static list (and the fallback of
    # the registry when Redis is down).
    media_controller_url: str = "http://127.0.0.1:8100"
    # static: place calls on media_controller_url's controllers in turn; registry: on the
    # least-loaded live controller of the Redis registry (docs/architecture.md, many media nodes).
    media_discovery: Literal["static", "registry"] = "static"
    media_registry_timeout: float = Field(default=0.5, gt=0)  # reading the registry, per call
    media_ready_timeout: float = 10.0  # no bot_leg_ready by then: greet anyway (with a warning)
    # The controller's API secret (MEDIA_CONTROLLER_API_SECRET there): sent as a Bearer token.
    media_controller_secret: str = ""

    @property
    def media_controller_urls(self) -> list[str]:
        return [url.strip().rstrip("/") for url in self.media_controller_url.split(",") if url.strip()]


class AuthSettings(BaseSettings):
    """Who may place calls (docs/security.md)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # Gateway authentication (docs/security.md): `<gateway_id>:<sha256 hex of the key>,...`.
    gateway_keys: str = ""
    token_secret: str | None = Field(default=None, min_length=32)  # HMAC key of call tokens
    allowed_origins: str = ""  # comma-separated browser origins, e.g. https://phone.example.com
    auth_required: bool = True  # false only for a closed lab: every handshake is then anonymous
    call_token_ttl_seconds: int = Field(default=60, ge=1)
    call_token_max_ttl_seconds: int = Field(default=3600, ge=1)

    @field_validator("gateway_keys")
    @classmethod
    def _keys_parse(cls, value: str) -> str:
        parse_gateway_keys(value)  # a typo in a key entry stops the service at start, not per call
        return value

    @property
    def allowed_origin_list(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]


class OrchestratorSettings(BaseSettings):
    """The dialog's timing and the provider fallback policy."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    tts_check_timeout: float = 2.0
    provider_timeout: float = 5.0  # one TTS sentence, one STT finish, the first dialog chunk
    provider_attempts: int = 3  # failures in a row before the call ends (each plays the filler)
    provider_backoff: float = 0.2  # seconds, doubled per failure
    silence_timeout: float = 8.0  # no caller speech in USER_TURN → the dialog reprompts
    max_utterance_seconds: float = 15.0
    preroll_ms: int = 400  # caller audio kept before a barge-in, fed to STT with the new turn
    hangup_after_ms: int = 300  # after the last reply finished playing
    # Personal data: what the caller said is not logged unless this is on (for debugging only).
    log_transcripts: bool = False
    transfer_timeout: float = 30.0  # no transfer_result by then: the transfer failed
    # Resume after a false interruption (docs/orchestrator.md, "Resume after a false stop"): what
    # follows a barge-in is a backchannel or no words → the bot says the rest of what was cut.
    resume_after_false_stop: bool = True
    resume_silence_ms: int = Field(default=1500, ge=0)  # no caller speech this long after the stop
    resume_max_words: int = Field(default=2, ge=0)  # a backchannel has at most this many words ...
    resume_max_speech_ms: int = Field(default=1200, ge=0)  # ... and lasts at most this long
    resume_window_ms: int = Field(default=6000, ge=0)  # stop → decision; later, it is a turn
    # Words a backchannel is made of (comma-separated, compared lowercased without punctuation).
    resume_backchannels: str = "mm-hmm,mhm,mm,hmm,uh-huh,uh,huh,aha,ah"
    # Words that are a backchannel too until the caller has heard (the start of) a question of the
    # cut utterance, and an answer after: "yes" before the question was asked acknowledges.
    resume_acknowledgements: str = "okay,ok,yeah,yep,yes,right"
    # No caller RTP for this long ends the call (call_ended caller_silence); 0 turns it off.
    caller_silence_seconds: float = Field(default=60.0, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    bind: str = "0.0.0.0:8000"
    orchestrator_factory: str = DEFAULT_FACTORY
    call_start_timeout: float = Field(default=10.0, gt=0)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    max_errors_per_call: int = Field(default=20, ge=1)
    instance_name: str | None = None
    drain_grace_seconds: float = Field(default=30.0, ge=0)
    call_ttl_seconds: int = Field(default=30, ge=3)
    orchestrator_close_timeout: float = Field(default=10.0, gt=0)
    send_timeout: float = Field(default=10.0, gt=0)  # one message waiting for the client to read
    # Unsent messages per call (bytes of JSON) before a client that stopped reading is disconnected.
    send_queue_bytes: int = Field(default=256 * 1024, ge=16 * 1024)
    max_call_seconds: float = Field(default=3600.0, gt=0)  # then call_ended max_duration
    # None: "otlp" when an endpoint is known (otlp_endpoint or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT).
    trace_exporter: Literal["none", "console", "otlp"] | None = None
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    cache: CacheSettings = Field(default_factory=CacheSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    orchestrator: OrchestratorSettings = Field(default_factory=OrchestratorSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @cached_property
    def instance(self) -> str:
        """Who served a call: sent as X-Call-Api-Instance and logged."""
        if self.instance_name:
            return self.instance_name
        port = self.bind.rsplit(":", 1)[-1]
        return f"{socket.gethostname()}:{port}"

    @property
    def transport_max_message_bytes(self) -> int:
        # Frames between max_frame_bytes and this cap get a protocol answer (error / call_failed);
        # anything bigger is cut off by the WebSocket layer itself (close 1009) before it is buffered.
        return self.max_frame_bytes * 16
