#!/usr/bin/env bash
# The local stack: scripts/stack.sh up|down|logs|status (see infra/stack/stack.py, docs/deployment.md).
# `up` prints WSS_URL=..., CA_FILE=... and WEB_URL=... once every process is healthy.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m infra.stack.stack "$@"
