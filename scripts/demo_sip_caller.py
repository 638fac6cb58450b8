"""The caller's side of `make demo-sip`: SIPp places the call (tests/sip/scenarios/demo.xml) and
presses 1 by SIP INFO; this script is the phone's RTP end (the SDP's address): it plays the
caller's answers as PCMU from 8 kHz WAVs when the bot asks, and prints the dialog.

    python scripts/demo_sip_caller.py <sip port> <sip-gateway.log> <out dir>"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from pathlib import Path

from voicebot_callsim.audio import read_audio

from tests.sip.rtp_peer import RtpPeer
from tests.sip.support import SCENARIOS

ANSWERS = {"which day": "wednesday", "morning or afternoon": "morning"}  # the bot's question → the reply


def speak_wav(out: Path, text: str) -> Path:
    """espeak-ng → an 8 kHz mono μ-law WAV, the way a phone line carries it."""
    raw, wav = out / f"{text}-16k.wav", out / f"{text}.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-q", str(raw), "-r", "8000", "-c", "1", "-e", "mu-law", str(wav)], check=True)
    return wav


def new_records(log: Path, seen: int) -> tuple[list[dict[str, object]], int]:
    lines = log.read_text(errors="replace").splitlines()
    records = []
    for line in lines[seen:]:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records, len(lines)


async def main(port: int, log: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    wavs = {question: speak_wav(out, reply) for question, reply in ANSWERS.items()}
    peer = await RtpPeer.open()
    ssrc = secrets.randbelow(2**31) + 1
    seen = len(log.read_text(errors="replace").splitlines())
    cmd = [
        "sipp",
        f"127.0.0.1:{port}",
        "-sf",
        str(SCENARIOS / "demo.xml"),
        "-s",
        "bot",
        "-m",
        "1",
        "-nostdin",
    ]
    cmd += ["-i", "127.0.0.1", "-timeout", "120s", "-timeout_error", "-key", "rtp_port", str(peer.port)]
    cmd += ["-key", "ssrc", str(ssrc), "-trace_msg", "-message_file", str(out / "sip-messages.log")]
    sipp = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL, cwd=out)
    media: tuple[str, int] | None = None
    while sipp.returncode is None:
        records, seen = new_records(log, seen)
        for r in records:
            event = r.get("event")
            if event == "answered":
                media = (str(r["media_at"][0]), int(r["media_at"][1]))  # type: ignore[index]
                where = f"RTP {r['rtp_to']} <-> mediasoup {r['media_at']}"
                print(f"  [answered] {r['codec']}, {where}, set up in {r['setup_ms']} ms")
            elif event == "transcript":
                print(f"  {r['role']:>6}: {r['text']}" + ("  (interrupted)" if r.get("interrupted") else ""))
                question = next((q for q in wavs if q in str(r["text"]).lower()), None)
                if r["role"] == "bot" and question and media:
                    await peer.until_quiet(1.0, 30)  # the question is over
                    pcm = read_audio(wavs.pop(question), 16000)
                    await peer.say("pcmu", media, ssrc, pcm, 0)
            elif event in ("dtmf", "bot_bye", "caller_bye", "refused", "refer"):
                details = {k: r[k] for k in ("digit", "code", "status", "why", "target") if k in r}
                print(f"  [{event}] {details}")
        try:
            await asyncio.wait_for(sipp.wait(), 0.2)
        except TimeoutError:
            pass
    peer.close()
    print(f"the bot's RTP: {len(peer.arrivals)} PCMU packets at 127.0.0.1:{peer.port}")
    return sipp.returncode


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
