#!/usr/bin/env bash
# make demo-sip: the whole stack, then one real SIP call into it with SIPp as the trunk (G.711
# PCMU from a WAV, one DTMF digit as RFC 4733), both sides of the dialog printed, the bot hangs up.
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
# The caller's words, as a telephone would carry them: 8 kHz mono mu-law.
espeak-ng -w "$out/caller-16k.wav" "yes please. wednesday morning."
sox -q "$out/caller-16k.wav" -r 8000 -c 1 -e mu-law "$out/caller.wav"
echo "calling $SIP_URI with SIPp (PCMU, then DTMF 1)"
before=$(wc -l <"$LOG_DIR/sip-gateway.log")
sipp "127.0.0.1:$port" -sf tests/sip/scenarios/demo.xml -s bot -m 1 -nostdin \
  -i 127.0.0.1 -timeout 120s -timeout_error \
  -key caller_wav "$PWD/$out/caller.wav" -key dtmf_pcap /usr/share/sip-tester/dtmf_2833_1.pcap \
  -trace_msg -message_file "$out/sip-messages.log" >"$out/sipp.out" 2>&1 && rc=0 || rc=$?
echo "--- the dialog (sip-gateway log) ---"
tail -n +"$((before + 1))" "$LOG_DIR/sip-gateway.log" | .venv/bin/python -c '
import json, sys
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    e = r.get("event")
    if e == "transcript":
        print(f"  {r[\"role\"]:>6}: {r[\"text\"]}" + ("  (interrupted)" if r.get("interrupted") else ""))
    elif e in ("invite", "answered", "dtmf", "bot_bye", "caller_bye", "refused", "refer"):
        print(f"  [{e}] " + ", ".join(f"{k}={r[k]}" for k in ("codec", "rtp_to", "setup_ms", "digit", "code", "status", "why") if k in r))
'
echo "SIP messages: $out/sip-messages.log"
if [ "$rc" -ne 0 ]; then echo "SIPp failed ($rc): see $out/sipp.out"; exit "$rc"; fi
echo "the bot hung up (BYE received)"
