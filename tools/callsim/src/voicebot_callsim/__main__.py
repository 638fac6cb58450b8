"""callsim: place 1..N calls like a telephony gateway and write a JSON report.

callsim --url wss://127.0.0.1:8443/api/v1/call --ca-file .run/certs/ca.pem --calls 1 --out .run/demo
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from voicebot_callsim.audio import write_wav
from voicebot_callsim.call import CallRefused, GatewayCall
from voicebot_callsim.raw import GATEWAY_TOKEN_ENV
from voicebot_callsim.report import summary
from voicebot_callsim.script import load_script, run_script

BOT_WAV_RATE = 16000


async def place_call(args: argparse.Namespace, script: dict[str, Any], index: int) -> dict[str, Any]:
    call = GatewayCall(
        args.url,
        f"callsim-{uuid.uuid4().hex[:12]}-{index}",
        {"contact_name": args.contact_name or script.get("contact_name", "there")},
        ca_file=args.ca_file,
        token=args.token,
    )
    outcome: dict[str, Any] = {"call_id": call.call_id}
    try:
        await call.start()
        outcome["accepted_ms"] = (call.accepted_at - call.connect_started) * 1000
        outcome["trace_id"] = call.trace_id
        outcome["instance"] = call.response_headers.get("x-call-api-instance")
        await call.setup_media()
        result = await run_script(call, script["steps"], timeout=args.step_timeout)
        outcome["barge_ins"] = [vars(b) | {"onset": None} for b in result.barge_ins]
        outcome["ok"] = True
    except CallRefused as exc:
        outcome.update(ok=False, error=f"refused: {exc.message}")
    except Exception as exc:
        outcome.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        await call.terminate()
    outcome["events"] = [
        {"t_ms": round((e.at - call.connect_started) * 1000, 1), **e.message} for e in call.events
    ]
    outcome["transcript"] = call.transcript()
    if call.legs is not None and args.out:
        wav = Path(args.out) / f"{call.call_id}-bot.wav"
        write_wav(wav, call.legs.receiver.pcm(BOT_WAV_RATE), BOT_WAV_RATE)
        outcome["bot_audio"] = str(wav)
        outcome["bot_packets"] = len(call.legs.receiver.packets)
    return outcome


async def run(args: argparse.Namespace) -> dict[str, Any]:
    script = load_script(args.script)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    tasks = []
    started = time.monotonic()
    for index in range(args.calls):
        tasks.append(asyncio.create_task(place_call(args, script, index)))
        if args.calls > 1 and args.ramp > 0:
            await asyncio.sleep(args.ramp / args.calls)
    done = 0
    outcomes = []
    for finished in asyncio.as_completed(tasks):
        outcomes.append(await finished)
        done += 1
        if args.progress:
            bar = "#" * int(30 * done / args.calls)
            print(f"\r[{bar:<30}] {done}/{args.calls} calls", end="", file=sys.stderr, flush=True)
    if args.progress:
        print(file=sys.stderr)
    barge = [b for o in outcomes for b in o.get("barge_ins", [])]
    return {
        "url": args.url,
        "calls": args.calls,
        "ok": sum(1 for o in outcomes if o.get("ok")),
        "wall_s": round(time.monotonic() - started, 2),
        "accepted_ms": summary([o["accepted_ms"] for o in outcomes if "accepted_ms" in o]),
        "barge_in_stop_audio_ms": summary(
            [b["stop_audio_ms"] for b in barge if b["stop_audio_ms"] is not None]
        ),
        "barge_in_last_bot_packet_ms": summary(
            [b["last_bot_packet_ms"] for b in barge if b["last_bot_packet_ms"] is not None]
        ),
        "outcomes": outcomes,
    }


def print_transcripts(report: dict[str, Any]) -> None:
    for outcome in report["outcomes"]:
        status = "ok" if outcome.get("ok") else f"FAILED ({outcome.get('error')})"
        print(f"call {outcome['call_id']} trace {outcome.get('trace_id')}: {status}")
        for role, text in outcome["transcript"]:
            print(f"  {role:>6}: {text}")
        for b in outcome.get("barge_ins", []):
            print(f"  barge-in '{b['text']}': stop_audio after {b['stop_audio_ms']:.0f} ms")
        if outcome.get("bot_audio"):
            print(f"  bot audio: {outcome['bot_audio']} ({outcome['bot_packets']} RTP packets)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callsim", description=__doc__)
    parser.add_argument("--url", required=True, help="ws:// or wss:// URL of /api/v1/call")
    parser.add_argument("--ca-file", help="CA certificate to verify the gateway's TLS certificate")
    parser.add_argument(
        "--token",
        default=os.environ.get(GATEWAY_TOKEN_ENV),
        help=f"gateway credential, sent as Authorization: Bearer (default: ${GATEWAY_TOKEN_ENV})",
    )
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds over which the calls are started")
    parser.add_argument("--script", help="caller script YAML (default: the appointment scenario)")
    parser.add_argument("--contact-name", help="initial_vars.contact_name (default: the script's)")
    parser.add_argument("--out", help="folder for bot-audio WAVs and the report")
    parser.add_argument("--report", help="write the JSON report here (default: <out>/report.json)")
    parser.add_argument("--step-timeout", type=float, default=30.0)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    report_path = args.report or (Path(args.out) / "report.json" if args.out else None)
    if report_path:
        Path(report_path).write_text(json.dumps(report, indent=2, default=str))
    if not args.quiet:
        print_transcripts(report)
    return 0 if report["ok"] == report["calls"] else 1


if __name__ == "__main__":
    sys.exit(main())
