"""The secrets of one local stack (a test run, a bench run, `make up`): the gateway key callers
present, the call-token secret, the media-controller's API secret and Redis's password.

Made once per process and exported into its environment (VOICEBOT_*), so that every client the
same process starts — callsim, the raw-frame client, the bench — presents the same credentials, and
a stack that started them can be reached by a later command that reads them back (`make up`)."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from functools import cache

GATEWAY_ID = "local"
GATEWAY_TOKEN_ENV = "VOICEBOT_GATEWAY_TOKEN"  # what callsim reads too (--token)
_ENV = {
    "gateway_key": GATEWAY_TOKEN_ENV,
    "token_secret": "VOICEBOT_TOKEN_SECRET",
    "media_api_secret": "VOICEBOT_MEDIA_API_SECRET",
    "redis_password": "VOICEBOT_REDIS_PASSWORD",
}
REDIS_USER = "voicebot"


def scoped_call_id(call_id: str) -> str:
    """How call-api, its logs and the media plane name a call of the local gateway: within the
    gateway's namespace (docs/security.md)."""
    return f"{GATEWAY_ID}~{call_id}"


@dataclass(frozen=True)
class Credentials:
    gateway_key: str
    token_secret: str
    media_api_secret: str
    redis_password: str

    @property
    def gateway_keys_entry(self) -> str:
        """The CALL_API_GATEWAY_KEYS entry that admits gateway_key (docs/security.md)."""
        return f"{GATEWAY_ID}:{hashlib.sha256(self.gateway_key.encode()).hexdigest()}"

    def call_api_env(self) -> dict[str, str]:
        return {
            "CALL_API_GATEWAY_KEYS": self.gateway_keys_entry,
            "CALL_API_TOKEN_SECRET": self.token_secret,
            "CALL_API_MEDIA_CONTROLLER_SECRET": self.media_api_secret,
        }

    def gateway_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.gateway_key}"}

    def media_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.media_api_secret}"}

    def export(self) -> None:
        for field, name in _ENV.items():
            os.environ[name] = getattr(self, field)


@cache
def local() -> Credentials:
    """This process's credentials: the ones in its environment, else new ones (then exported)."""
    made = Credentials(
        gateway_key=os.environ.get(_ENV["gateway_key"]) or "vbk_" + secrets.token_urlsafe(32),
        token_secret=os.environ.get(_ENV["token_secret"]) or secrets.token_hex(32),
        media_api_secret=os.environ.get(_ENV["media_api_secret"]) or secrets.token_hex(32),
        redis_password=os.environ.get(_ENV["redis_password"]) or secrets.token_hex(24),
    )
    made.export()
    return made
