#!/usr/bin/env bash
# The base image our builds use: Debian bookworm from `debootstrap --variant=minbase`, imported
# with `podman import` (no registry is reachable here). Built once per input key, kept as a
# tarball in $VOICEBOT_CACHE/images and as the image voicebot/base:bookworm-<key>.
# Prints the image name on stdout. Users elsewhere pass an official base instead
# (BASE_IMAGE=debian:bookworm-slim, see docs/deployment.md).
set -euo pipefail
source "$(dirname "$0")/common.sh"

SUITE=bookworm
INCLUDE=ca-certificates

mirror() {
  # The Debian mirror this machine's apt uses (deb822 or one-line sources).
  local uri
  uri="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
  [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
  [ -n "$uri" ] || die "no Debian mirror in /etc/apt/sources.list{,.d}"
  echo "$uri"
}

MIRROR="$(mirror)"
KEY="$( { cat "$0"; echo "$SUITE $INCLUDE $MIRROR"; } | sha256sum | cut -c1-12)"
NAME="voicebot/base:$SUITE-$KEY"
TARBALL="$IMAGE_CACHE/base-$SUITE-$KEY.tar"

if image_exists "$NAME"; then echo "$NAME"; exit 0; fi
mkdir -p "$IMAGE_CACHE"
exec 8>"$IMAGE_CACHE/.base-$KEY.lock"
flock 8
if [ ! -f "$TARBALL" ]; then
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
  ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/voicebot-base.XXXXXX")"
  trap 'rm -rf "$ROOTFS"' EXIT
  START=$SECONDS
  log "debootstrap --variant=minbase $SUITE (key $KEY)"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" >"$IMAGE_CACHE/base-$KEY.log" 2>&1 \
    || die "debootstrap failed, see $IMAGE_CACHE/base-$KEY.log"
  # mktemp made the root 0700: an image's / must be 0755 or no non-root user can run anything.
  chmod 0755 "$ROOTFS"
  # What an official slim image also drops: apt lists and caches.
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$ROOTFS" -cf "$TARBALL.tmp" .
  mv -f "$TARBALL.tmp" "$TARBALL"
  log "base rootfs in $((SECONDS - START)) s: $TARBALL"
fi
engine import --change 'CMD ["/bin/bash"]' "$TARBALL" "$NAME" >/dev/null
log "imported $NAME"
echo "$NAME"
