"""The whole back end behind the real nginx gateway, with browser call tokens on: Redis, the
mediasoup service, the media-controller, call-api (gunicorn, the real Orchestrator) and nginx
serving the softphone page (services/web/dist) on the same TLS origin, all on loopback."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.callapi import CallApiServer
from tests.support.fullstack import REAL_FACTORY
from tests.support.media import MediaStack, start_media_stack
from tests.support.nginx import Certs, NginxGateway, make_certs
from tests.support.procs import REPO_ROOT
from tests.support.redis import RedisServer

WEB_DIR = REPO_ROOT / "services" / "web"


def build_page() -> Path:
    """The page's bundle, rebuilt from services/web/src (fast; needs its npm packages)."""
    if not (WEB_DIR / "node_modules" / "mediasoup-client").exists():
        raise RuntimeError("services/web has no npm packages: run `make setup`")
    subprocess.run(["node", "build.mjs"], cwd=WEB_DIR, check=True, capture_output=True, timeout=120)
    return WEB_DIR / "dist"


@dataclass
class BrowserStack:
    redis: RedisServer
    media: MediaStack
    call_api: CallApiServer
    nginx: NginxGateway
    certs: Certs

    @property
    def page_url(self) -> str:
        return f"{self.nginx.https_url}/"

    @property
    def origin(self) -> str:
        return self.nginx.https_url

    def stop(self) -> None:
        self.nginx.stop()
        self.call_api.stop()
        self.media.stop()
        self.redis.stop()


def start_browser_stack(tmp_path: Path, *, web_env: dict[str, str] | None = None) -> BrowserStack:
    tmp_path = Path(tmp_path)
    log_dir = tmp_path / "logs"
    build_page()
    certs = make_certs(tmp_path / "certs")
    redis = RedisServer(log_dir).start()
    started: list[object] = [redis]
    try:
        media = start_media_stack(tmp_path)
        started.append(media)
        call_api = CallApiServer(log_dir=log_dir, redis_url=redis.url, factory=REAL_FACTORY, workers=1)
        nginx = NginxGateway(tmp_path / "nginx", certs, [f"127.0.0.1:{call_api.port}"])
        call_api.env.update(
            {
                "CALL_API_MEDIA_CONTROLLER_URL": media.controller_url,
                "CALL_API_AUTH_REQUIRED": "true",
                "CALL_API_TOKEN_SECRET": secrets.token_hex(32),
                "CALL_API_ALLOWED_ORIGINS": nginx.https_url,
                **{f"CALL_API_WEB_{k.upper()}": v for k, v in (web_env or {}).items()},
            }
        )
        call_api.start(timeout=60)
        started.append(call_api)
        nginx.start()
    except BaseException:
        for part in reversed(started):
            part.stop()  # type: ignore[attr-defined]
        raise
    return BrowserStack(redis, media, call_api, nginx, certs)
