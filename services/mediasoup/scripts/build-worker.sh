#!/usr/bin/env bash
# Builds mediasoup's C++ worker against Debian's libraries, once per (mediasoup version, shims),
# and keeps it in a cache outside the repo.
#
#   scripts/build-worker.sh               build if needed, link into node_modules, print the path
#   scripts/build-worker.sh --print-path  only print where the cached binary is (or would be)
#
# Why: mediasoup's postinstall downloads a prebuilt worker (or the sources of its dependencies)
# from GitHub, which our machines cannot reach. We install the package with --ignore-scripts and
# run mediasoup's own build (worker/tasks.py: meson + ninja from PyPI) in a temporary copy of
# worker/, with worker-shims/ standing in for the subprojects it would download.
#
# Progress goes to stderr; stdout is only the path of the binary (use it as MEDIASOUP_WORKER_BIN).
# Env: VOICEBOT_CACHE (default ~/.cache/voicebot), VOICEBOT_BUILD_JOBS (default 2),
#      PYTHON (default python3).
set -euo pipefail

SERVICE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHIMS_DIR="$SERVICE_DIR/worker-shims"
PATCHES_DIR="$SERVICE_DIR/worker-patches" # fixes to mediasoup's worker source, applied in order
PKG_DIR="$SERVICE_DIR/node_modules/mediasoup"
CACHE_ROOT="${VOICEBOT_CACHE:-$HOME/.cache/voicebot}"
JOBS="${VOICEBOT_BUILD_JOBS:-2}"
PYTHON="${PYTHON:-python3}"
# Part of the cache key: changing how we configure the build must not reuse an old binary.
MESON_ARGS_USED="--wrap-mode=nodownload -Dms_disable_liburing=true"

log() { printf '[build-worker] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -f "$PKG_DIR/package.json" ] || die "$PKG_DIR missing: run 'npm ci --ignore-scripts' in $SERVICE_DIR first"
MS_VERSION="$(node -p "require('$PKG_DIR/package.json').version")"

shims_hash() {
  # Content and relative path of every shim file (docs aside), in a stable order, plus the meson args.
  (
    cd "$SHIMS_DIR"
    find . -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    printf 'meson-args %s\n' "$MESON_ARGS_USED"
    if [ -d "$PATCHES_DIR" ]; then (cd "$PATCHES_DIR" && find . -name '*.patch' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum); fi
  ) | sha256sum | cut -c1-16
}

KEY="${MS_VERSION}-$(shims_hash)"
CACHE_DIR="$CACHE_ROOT/mediasoup-worker-$KEY"
CACHED_BIN="$CACHE_DIR/mediasoup-worker"
# Where require('mediasoup') looks when MEDIASOUP_WORKER_BIN is not set.
PKG_BIN="$PKG_DIR/worker/out/Release/mediasoup-worker"

if [ "${1:-}" = "--print-path" ]; then
  echo "$CACHED_BIN"
  exit 0
fi

link_into_package() {
  mkdir -p "$(dirname "$PKG_BIN")"
  if [ -e "$PKG_BIN" ] && cmp -s "$CACHED_BIN" "$PKG_BIN"; then return; fi
  # Hard link when on the same filesystem, else copy; both via rename so a running
  # service never sees a half-written file.
  local tmp="$PKG_BIN.tmp.$$"
  ln -f "$CACHED_BIN" "$tmp" 2>/dev/null || cp "$CACHED_BIN" "$tmp"
  mv -f "$tmp" "$PKG_BIN"
}

finish() {
  link_into_package
  log "worker ready: $CACHED_BIN (also at node_modules/mediasoup/worker/out/Release/)"
  echo "$CACHED_BIN"
  exit 0
}

[ -x "$CACHED_BIN" ] && finish

# One build per key at a time (setup and a test run may race); the loser then finds the cache.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.mediasoup-worker-$KEY.lock"
if ! flock -n 9; then
  log "another build of $KEY is running, waiting for it"
  flock 9
fi
[ -x "$CACHED_BIN" ] && finish

for tool in g++ pkg-config flatc "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs the Debian packages)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

START=$SECONDS
log "building mediasoup-worker $MS_VERSION (key $KEY) in $WORK with $JOBS jobs; takes ~10 min on 2 cores"
cp -a "$PKG_DIR/worker" "$WORK/worker"
rm -rf "$WORK/worker/out"

# Our fixes to the worker's source (worker-patches/README.md).
for fix in "$PATCHES_DIR"/*.patch; do
  [ -e "$fix" ] || continue
  log "applying $(basename "$fix")"
  patch -d "$WORK/worker" -p1 --forward --batch --quiet <"$fix" || die "$(basename "$fix") does not apply"
done

# Put each shim where its .wrap says the downloaded source would be unpacked.
for wrap in "$WORK"/worker/subprojects/*.wrap; do
  name="$(basename "$wrap" .wrap)"
  [ -d "$SHIMS_DIR/$name" ] || continue # wingetopt: Windows only
  dir="$(sed -n 's/^directory[[:space:]]*=[[:space:]]*//p' "$wrap" | head -n1)"
  [ -n "$dir" ] || die "no 'directory =' in $wrap"
  rm -rf "$WORK/worker/subprojects/$dir"
  cp -a "$SHIMS_DIR/$name" "$WORK/worker/subprojects/$dir"
done

# What mediasoup's npm-scripts.mjs buildWorker() does: pip-install invoke, run worker/tasks.py.
"$PYTHON" -m pip install -q --disable-pip-version-check --no-user --target "$WORK/pip_invoke" invoke >&2

# tasks.py compiles with one job per CPU it may run on, so restrict the affinity to cap jobs.
limit=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt "$JOBS" ]; then
  limit=(taskset -c "0-$((JOBS - 1))")
fi

BUILD_LOG="$CACHE_ROOT/mediasoup-worker-$KEY.build.log"
log "full log: $BUILD_LOG"
if ! (
  cd "$WORK/worker"
  unset MEDIASOUP_WORKER_BIN # tasks.py skips the compile when it is set
  export MEDIASOUP_BUILDTYPE=Release MESON_ARGS="$MESON_ARGS_USED" PYTHONPATH="$WORK/pip_invoke"
  nice -n 10 "${limit[@]}" "$PYTHON" -m invoke -r . mediasoup-worker
) 2>&1 | tee "$BUILD_LOG" | awk '
  /^\[[0-9]+\/[0-9]+\]/ { if (++n % 25 == 0) { print "[build-worker] " $0; fflush() }; next }
  /ERROR|error:|FAILED|^Found |^Run-time dependency|^Dependency|^Build targets/ { print "[build-worker] " $0; fflush() }' >&2; then
  die "build pipeline failed, see $BUILD_LOG"
fi
BUILT="$WORK/worker/out/Release/mediasoup-worker"
[ -x "$BUILT" ] || die "build finished without $BUILT, see $BUILD_LOG"
log "compiled in $((SECONDS - START)) s"

# Smoke test before caching: the library must be able to start and talk to this binary.
log "smoke test: starting a Worker with it"
(cd "$SERVICE_DIR" && MEDIASOUP_WORKER_BIN="$BUILT" node -e '
  require("mediasoup").createWorker({ logLevel: "warn" })
    .then(async (w) => { const r = await w.createRouter({ mediaCodecs: [
      { kind: "audio", mimeType: "audio/opus", clockRate: 48000, channels: 2 } ] });
      r.close(); w.close(); })
    .catch((e) => { console.error(e); process.exit(1); });') >&2 \
  || die "smoke test failed: the built worker does not work"

STAGE="$CACHE_ROOT/.mediasoup-worker-$KEY.stage.$$"
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp "$BUILT" "$STAGE/mediasoup-worker"
{
  echo "mediasoup $MS_VERSION"
  echo "key $KEY"
  echo "meson args $MESON_ARGS_USED"
  echo "built $(date -u +%FT%TZ) on $(uname -srm) in $((SECONDS - START)) s"
} >"$STAGE/BUILD-INFO"
mv -T "$STAGE" "$CACHE_DIR" 2>/dev/null || rm -rf "$STAGE" # a finished twin won: keep it
finish
