#!/usr/bin/env bash
# Idempotent machine + project setup: Debian packages, the Python virtualenv,
# the mediasoup service's npm packages and its worker (built once, cached).
# Every step checks first and skips what is already in place.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(
  redis-server nginx openssl espeak-ng ffmpeg sox sip-tester kamailio
  libopus0  # the caller's Opus decoder (media_controller/opus.py)
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  pkg-config g++ make
  libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev
  flatbuffers-compiler libflatbuffers-dev liburing-dev
  chromium chromium-driver
  prometheus
)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "debian packages: present"; return; fi
  log "debian packages: installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PY_PACKAGES=(-r requirements-dev.txt -e libs/protocol -e libs/tracing -e libs/mediaclient -e services/call-api -e services/media-controller -e services/sip-gateway -e tools/callsim -e tools/stack -e tools/corpus -e tools/tracewaterfall)
install_python() {
  local stamp=".venv/.setup-stamp"
  local want
  want="$(cat constraints.txt requirements-dev.txt libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then log "python venv: up to date"; return; fi
  log "python venv: installing"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt "${PY_PACKAGES[@]}"
  echo "$want" > "$stamp"
}

install_node() {
  local dir=services/mediasoup
  [ -f "$dir/package.json" ] || return 0
  local stamp="$dir/node_modules/.setup-stamp"
  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then log "npm packages: up to date"; else
    log "npm packages: installing (scripts off: the worker is built below)"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
  if [ -x "$dir/scripts/build-worker.sh" ]; then "$dir/scripts/build-worker.sh"; fi
}

# The softphone page (services/web): its npm packages, then the bundle into services/web/dist.
install_web() {
  local dir=services/web
  [ -f "$dir/package.json" ] || return 0
  local stamp="$dir/node_modules/.setup-stamp"
  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then log "web npm packages: up to date"; else
    log "web npm packages: installing"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
  (cd "$dir" && node build.mjs) && log "web page: built into $dir/dist"
}

install_apt
install_python
install_node
install_web
log "done"
