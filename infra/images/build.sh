#!/usr/bin/env bash
# `make images`: builds voicebot/{call-api,media-controller,sip-gateway,sip-edge,mediasoup}:<version> with podman
# (vfs storage, chroot isolation: what works as root on our machines) from the debootstrap base
# (base.sh): the Python images from infra/images/python.Containerfile (one target each, on shared
# stages), mediasoup from services/mediasoup/Containerfile. Idempotent: an image whose inputs
# (Containerfile, staged context, base, arguments) are unchanged is not rebuilt; its label
# voicebot.inputs holds the hash.
#
#   infra/images/build.sh [name...]        default: all images
# Env: BASE_IMAGE (default: ours from base.sh; e.g. docker.io/library/debian:bookworm-slim),
#      CONTAINER_ENGINE (podman | docker), VOICEBOT_CACHE.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

# podman, buildah and debootstrap from Debian, installed on first use (only `make images` needs them).
if [ "$ENGINE" = podman ] && ! { command -v podman && command -v buildah && command -v debootstrap; } >/dev/null; then
  log "installing podman buildah debootstrap (Debian)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    podman buildah debootstrap uidmap >/dev/null
fi
BASE="${BASE_IMAGE:-$(infra/images/base.sh)}"
BASE_ID="$(engine image inspect --format '{{.Id}}' "$BASE" 2>/dev/null || echo "$BASE")"
BUILD_FLAGS=()
[ "$ENGINE" != podman ] || BUILD_FLAGS=(--isolation chroot --network host)

# Files of the repo (tracked and new, not ignored, as in the working tree: a deleted one is left
# out) under the given paths, copied to $1.
stage_files() {
  local dest="$1" file; shift
  mkdir -p "$dest"
  git ls-files -z --cached --others --exclude-standard -- "$@" \
    | while IFS= read -r -d '' file; do [ ! -e "$file" ] || printf '%s\0' "$file"; done \
    | tar --null -T - -cf - | tar -C "$dest" -xf -
}

tree_hash() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }

# Every Python dependency as a wheel, built on this machine (whose pip reaches PyPI and our
# wheel cache), so the image builds need no network for pip. Keyed by what decides the set.
# Wanted by Debian 12's Python 3.11.2 only (markers like python_full_version < "3.11.3"), which
# this machine's newer Python would not fetch.
PYTHON_MARKER_EXTRAS=(async-timeout)

wheelhouse() {
  local key dir
  key="$( { cat constraints.txt libs/*/pyproject.toml services/{call-api,media-controller,sip-gateway}/pyproject.toml; echo "${PYTHON_MARKER_EXTRAS[*]}"; } | sha256sum | cut -c1-16)"
  dir="$IMAGE_CACHE/wheels-$key"
  if [ ! -f "$dir/.complete" ]; then
    log "wheels: building into $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    .venv/bin/python -m pip wheel -q --disable-pip-version-check -c constraints.txt -w "$dir" \
      setuptools wheel "${PYTHON_MARKER_EXTRAS[@]}" libs/protocol libs/tracing libs/mediaclient services/call-api services/media-controller services/sip-gateway >&2
    rm -f "$dir"/voicebot_*.whl # ours are built from the staged sources in the image
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# build NAME CONTAINERFILE CONTEXT_DIR EXTRA_BUILD_ARGS...
build() {
  local name="$1" file="$ROOT/$2" context="$3"; shift 3
  local tag="voicebot/$name:$IMAGE_VERSION" inputs
  inputs="$( { sha256sum "$file"; tree_hash "$context"; echo "$BASE_ID $*"; } | sha256sum | cut -c1-16)"
  if [ "$(image_label "$tag" voicebot.inputs)" = "$inputs" ]; then
    log "$tag: up to date ($inputs)"
    return
  fi
  local start=$SECONDS
  log "$tag: building (inputs $inputs)"
  engine build -q "${BUILD_FLAGS[@]}" -f "$file" --build-arg BASE_IMAGE="$BASE" \
    --label voicebot.inputs="$inputs" -t "$tag" "$@" "$context" >/dev/null
  log "$tag: built in $((SECONDS - start)) s"
}

# The libs each Python image installs: its builder installs every lib the context holds.
declare -A PYTHON_LIBS=(
  [call-api]="libs/protocol libs/tracing libs/mediaclient"
  [media-controller]="libs/protocol libs/tracing"
  [sip-gateway]="libs/protocol libs/tracing"
)

python_image() {
  local name="$1" ctx wheels
  wheels="$(wheelhouse)"
  # A context of this build's own: builds from other checkouts may run at the same time.
  ctx="$(mktemp -d "$IMAGE_CACHE/ctx-$name.XXXXXX")"
  STAGED+=("$ctx")
  # shellcheck disable=SC2086 # a list of paths
  stage_files "$ctx" constraints.txt ${PYTHON_LIBS[$name]} "services/$name"
  find "$ctx" -name tests -prune -type d -exec rm -rf {} +
  mkdir -p "$ctx/wheels"
  cp -l "$wheels"/*.whl "$ctx/wheels/" 2>/dev/null || cp "$wheels"/*.whl "$ctx/wheels/"
  build "$name" infra/images/python.Containerfile "$ctx" --target "$name" --build-arg PIP_ARGS=--no-index
}

mediasoup_image() {
  local svc=services/mediasoup worker
  [ -x "$svc/node_modules/.bin/node" ] || die "$svc/node_modules missing: run make setup"
  worker="$("$svc/scripts/build-worker.sh" --print-path)"
  [ -x "$worker" ] || die "mediasoup worker not built: run make setup"
  # the schema's hash in the arguments: a changed schema rebuilds the image
  build mediasoup "$svc/Containerfile" "$svc" --build-context worker="$(dirname "$worker")" --build-context schema=docs/schema \
    --label "voicebot.schema=$(sha256sum docs/schema/internal.media-service.request.schema.json | cut -c1-16)"
}

sip_edge_image() {
  build sip-edge infra/kamailio/Containerfile infra/kamailio
}

STAGED=()
trap 'rm -rf "${STAGED[@]}"' EXIT
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${IMAGES[@]}")
for name in "${names[@]}"; do
  case "$name" in
    call-api | media-controller | sip-gateway) python_image "$name" ;;
    sip-edge) sip_edge_image ;;
    mediasoup) mediasoup_image ;;
    *) die "unknown image $name (one of ${IMAGES[*]})" ;;
  esac
done
# A rebuilt image leaves its predecessor and its build stages untagged; with vfs storage each is a
# full copy, and the disk fills after a few dozen builds. Untagged images go (tagged ones stay).
engine image prune -f >/dev/null || log "could not prune untagged images (ignored)"
