#!/usr/bin/env bash
# make demo-sip: the whole stack, then one real SIP call into it with SIPp as the trunk (G.711
# PCMU from WAVs, one DTMF digit by SIP INFO), both sides of the dialog printed, the bot hangs up.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.run/demo-sip
mkdir -p "$out"
trap 'scripts/stack.sh down >/dev/null 2>&1 || true' EXIT
stack_env="$(scripts/stack.sh up)"
echo "$stack_env"
SIP_URI="$(sed -n 's/^SIP_URI=//p' <<<"$stack_env")"
LOG_DIR="$(sed -n 's/^LOG_DIR=//p' "${VOICEBOT_STACK_DIR:-.run/stack}/env")"
port="${SIP_URI##*:}"
echo "calling $SIP_URI with SIPp (PCMU from WAVs, the digit 1 by SIP INFO)"
echo "--- the dialog ---"
rc=0
PYTHONPATH="$PWD" .venv/bin/python scripts/demo_sip_caller.py "$port" "$LOG_DIR/sip-gateway.log" "$PWD/$out" || rc=$?
echo "SIP messages: $out/sip-messages.log"
if [ "$rc" -ne 0 ]; then echo "SIPp failed ($rc): see $LOG_DIR/sip-gateway.log"; exit "$rc"; fi
echo "the bot hung up (BYE received)"
