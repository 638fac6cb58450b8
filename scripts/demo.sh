#!/usr/bin/env bash
# The main job on embedded defaults: the whole stack (nginx TLS gateway, two call-api instances,
# media-controller, mediasoup, Redis), one real call placed by the gateway simulator, then down.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.run/demo
mkdir -p "$out"
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
stack_env="$(scripts/stack.sh up)"
sed 's/^GATEWAY_TOKEN=.*/GATEWAY_TOKEN=<printed by make up; not shown here>/' <<<"$stack_env"
WSS_URL="$(sed -n 's/^WSS_URL=//p' <<<"$stack_env")"
CA_FILE="$(sed -n 's/^CA_FILE=//p' <<<"$stack_env")"
GATEWAY_TOKEN="$(sed -n 's/^GATEWAY_TOKEN=//p' <<<"$stack_env")"
echo "placing one call through $WSS_URL (caller prompts: espeak-ng WAVs sent as Opus RTP)"
.venv/bin/callsim --url "$WSS_URL" --ca-file "$CA_FILE" --token "$GATEWAY_TOKEN" --out "$out" --calls 1
echo "report: $out/report.json"
