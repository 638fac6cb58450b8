#!/usr/bin/env bash
# A local CA and a server certificate for localhost / 127.0.0.1, for the local gateway.
#   scripts/certs.sh [dir]     (default: .run/certs)
# Writes ca.crt, ca.key, server.crt, server.key; keeps existing files while the server
# certificate still verifies against the CA, names localhost and 127.0.0.1, and is valid for
# at least another day.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:-$ROOT/.run/certs}"
mkdir -p "$DIR"
cd "$DIR"
log() { printf '[certs] %s\n' "$*" >&2; }

valid() {
  [ -s ca.crt ] && [ -s ca.key ] && [ -s server.crt ] && [ -s server.key ] || return 1
  openssl verify -CAfile ca.crt server.crt >/dev/null 2>&1 || return 1
  openssl x509 -in server.crt -noout -checkend 86400 >/dev/null || return 1
  openssl x509 -in server.crt -noout -checkhost localhost | grep -q "does match" || return 1
  openssl x509 -in server.crt -noout -checkip 127.0.0.1 | grep -q "does match" || return 1
  # The key must belong to the certificate.
  [ "$(openssl x509 -in server.crt -noout -pubkey)" = "$(openssl pkey -in server.key -pubout)" ]
}

if valid; then
  log "valid certificates in $DIR"
  exit 0
fi

log "creating a local CA and a server certificate in $DIR"
umask 077
tmp="$(mktemp -d "$DIR/.new.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" -days 825 -subj "/CN=voicebot local CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null

openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" 2>/dev/null

cat > "$tmp/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -out "$tmp/server.crt" -days 365 -extfile "$tmp/server.ext" 2>/dev/null

chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
mv -f "$tmp/ca.crt" "$tmp/ca.key" "$tmp/server.crt" "$tmp/server.key" .
log "CA: $DIR/ca.crt  server: $DIR/server.crt (localhost, 127.0.0.1)"
