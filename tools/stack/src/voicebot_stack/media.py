"""The media plane on loopback: the real mediasoup service and a media-controller connected to it.

stack = start_media_stack(tmp_path)        # stack.controller_url, stack.stop()
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot_stack import credentials, specs
from voicebot_stack.launch import launch
from voicebot_stack.procs import Proc, free_port, free_ports


@dataclass
class MediaStack:
    service: Proc
    controller: Proc
    service_port: int
    controller_port: int
    secret: str
    log_dir: Path
    workers: int = 1

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller_port}"

    @property
    def service_url(self) -> str:
        return f"ws://127.0.0.1:{self.service_port}/"

    @property
    def api_secret(self) -> str:
        return credentials.local().media_api_secret

    @property
    def api_headers(self) -> dict[str, str]:
        """What every controller route but the probes needs."""
        return credentials.local().media_headers()

    def _open(self, path: str) -> Any:
        request = urllib.request.Request(self.controller_url + path, headers=self.api_headers)
        return urllib.request.urlopen(request, timeout=5)

    def get(self, path: str) -> Any:
        with self._open(path) as resp:
            return json.loads(resp.read())

    def text(self, path: str) -> str:
        with self._open(path) as resp:
            return str(resp.read().decode())

    def worker_pids(self) -> list[int]:
        """The mediasoup workers' pids (the service's stats, through the controller)."""
        return [int(w["pid"]) for w in self.get("/v1/stats")["workers"]]

    def start_service(self, timeout: float = 30.0) -> None:
        """(Re)start the mediasoup service on the same port (after a test killed it)."""
        spec = specs.mediasoup(self.service_port, self.secret, self.workers)
        self.service = launch(spec, self.log_dir, timeout)

    def stop(self) -> None:
        self.controller.stop()
        self.service.stop()


def start_controller(
    service_port: int,
    secret: str,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    name: str = "media-controller",
) -> tuple[Proc, int]:
    """A media-controller connected to the mediasoup service on service_port; returns it and its port."""
    port = free_port()
    spec = specs.media_controller(port, service_port, secret, env).named(name)
    return launch(spec, log_dir, timeout), port


def start_media_stack(
    tmp_path: Path,
    *,
    workers: int = 1,
    controller_env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> MediaStack:
    """Start the mediasoup service (`workers` workers) and a media-controller connected to it."""
    log_dir = Path(tmp_path) / "media-logs"
    secret = secrets.token_hex(16)
    (service_port,) = free_ports(1)
    service = launch(specs.mediasoup(service_port, secret, workers), log_dir, timeout)
    try:
        controller, port = start_controller(
            service_port, secret, log_dir, env=controller_env, timeout=timeout
        )
    except BaseException:
        service.stop()
        raise
    return MediaStack(service, controller, service_port, port, secret, log_dir, workers)
