"""The gateway's configuration, from SIP_GATEWAY_* environment variables (docs/sip-gateway.md)."""

from __future__ import annotations

import ipaddress

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIP_GATEWAY_", extra="ignore")

    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    health_host: str = "127.0.0.1"
    health_port: int = 5080
    # The public protocol endpoint, through nginx, and its credential (docs/security.md).
    call_api_url: str = "wss://127.0.0.1/api/v1/call"
    call_api_ca_file: str | None = None
    call_api_token: SecretStr | None = None
    # Trunk access control: source addresses allowed to send anything (CIDRs, comma separated).
    allow_networks: str = "127.0.0.1/32"
    # Optional digest authentication of INVITEs (RFC 3261 §22), on top of the allow-list.
    digest_realm: str = "voicebot"
    digest_username: str | None = None
    digest_password: SecretStr | None = None
    # A header whose value (32 hex digits) becomes the trace id; otherwise it is derived from Call-ID.
    trace_id_header: str | None = None
    # X- headers copied into initial_vars (X-Customer-Id → customer_id), comma separated.
    var_headers: str = ""
    # How long the set-up (call-api + mediasoup signalling) may take before the INVITE gets 503.
    setup_timeout_seconds: float = 10.0
    # Dead calls end: an in-dialog re-INVITE every keepalive_seconds (0: off) and a hard limit.
    keepalive_seconds: float = 30.0
    max_call_seconds: float = 3600.0
    # Transfer: how long to wait for the answer to a REFER.
    refer_timeout_seconds: float = 10.0
    log_level: str = "INFO"

    @field_validator("allow_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            ipaddress.ip_network(part, strict=False)
        return value

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        parts = filter(None, (p.strip() for p in self.allow_networks.split(",")))
        return [ipaddress.ip_network(p, strict=False) for p in parts]

    def var_header_names(self) -> list[str]:
        return [h.strip() for h in self.var_headers.split(",") if h.strip()]
