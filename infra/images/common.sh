# Shared by the image scripts: the container engine and the cache. Sourced, not run.
# Env: CONTAINER_ENGINE (default podman; docker works for build/push), VOICEBOT_CACHE.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${VOICEBOT_CACHE:-$HOME/.cache/voicebot}"
IMAGE_CACHE="$CACHE_ROOT/images"
ENGINE="${CONTAINER_ENGINE:-podman}"
IMAGE_VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/services/call-api/pyproject.toml" | head -n1)"
IMAGES=(call-api media-controller sip-gateway sip-edge mediasoup)

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# This sandbox (and rootless-less CI machines) cannot use overlay mounts or namespaces the
# way a workstation can: vfs storage and chroot isolation work everywhere as root.
engine() {
  if [ "$ENGINE" = podman ]; then podman --storage-driver vfs "$@"; else "$ENGINE" "$@"; fi
}

image_exists() { engine image inspect "$1" >/dev/null 2>&1; }

image_label() { engine image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
