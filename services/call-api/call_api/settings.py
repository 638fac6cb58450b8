"""call-api settings, read from the environment (prefix CALL_API_)."""

import socket
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from call_api.auth.keys import parse_gateway_keys

DEFAULT_FACTORY = "call_api.orchestrator.factory:create_orchestrator_instance"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALL_API_", frozen=True)

    bind: str = "0.0.0.0:8000"
    redis_url: str = "redis://127.0.0.1:6379/0"
    media_controller_url: str = "http://127.0.0.1:8100"
    orchestrator_factory: str = DEFAULT_FACTORY
    call_start_timeout: float = Field(default=10.0, gt=0)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    max_errors_per_call: int = Field(default=20, ge=1)
    instance_name: str | None = None
    drain_grace_seconds: float = Field(default=30.0, ge=0)
    call_ttl_seconds: int = Field(default=30, ge=3)
    orchestrator_close_timeout: float = Field(default=10.0, gt=0)
    send_timeout: float = Field(default=10.0, gt=0)
    max_call_seconds: float = Field(default=3600.0, gt=0)  # then call_ended max_duration
    # None: "otlp" when an endpoint is known (otlp_endpoint or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT).
    trace_exporter: Literal["none", "console", "otlp"] | None = None
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
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
