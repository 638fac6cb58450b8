"""Where the repository, its virtualenv and the binaries the services run are."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# tools/stack/src/voicebot_stack/paths.py: installed in editable mode (scripts/setup.sh).
REPO_ROOT = Path(__file__).resolve().parents[4]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
CALL_API_DIR = REPO_ROOT / "services" / "call-api"
MEDIASOUP_DIR = REPO_ROOT / "services" / "mediasoup"
CERTS_SCRIPT = REPO_ROOT / "scripts" / "certs.sh"
BUILD_WORKER = MEDIASOUP_DIR / "scripts" / "build-worker.sh"
# Where require('mediasoup') looks when MEDIASOUP_WORKER_BIN is not set.
PACKAGE_WORKER = (
    MEDIASOUP_DIR / "node_modules" / "mediasoup" / "worker" / "out" / "Release" / "mediasoup-worker"
)
# Node as an npm dependency of the service, when it has one; else the machine's.
LOCAL_NODE = MEDIASOUP_DIR / "node_modules" / ".bin" / "node"


def mediasoup_worker_bin() -> str | None:
    """The worker binary: MEDIASOUP_WORKER_BIN if it names a file, else the cached build of
    build-worker.sh, else the one last linked into node_modules; None if there is none."""
    given = os.environ.get("MEDIASOUP_WORKER_BIN")
    if given and Path(given).is_file():
        return given
    if BUILD_WORKER.exists():
        out = subprocess.run([str(BUILD_WORKER), "--print-path"], capture_output=True, text=True, check=False)
        path = out.stdout.strip()
        if path and Path(path).is_file():
            return path
    return str(PACKAGE_WORKER) if PACKAGE_WORKER.is_file() else None


def node_bin() -> str:
    return str(LOCAL_NODE) if LOCAL_NODE.exists() else shutil.which("node") or "node"


def redis_server_bin() -> str:
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def nginx_bin() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"
