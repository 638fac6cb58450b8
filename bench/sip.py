"""sip.*: the SIP gateway under SIPp, against the whole stack (real Orchestrator, nginx, mediasoup).

- invite_to_200: INVITE sent → 200 OK received, at the caller (SIPp's own message log);
- ok_to_first_bot_rtp: 200 OK received → the first RTP packet of the bot's greeting at the offer's
  address (a UDP socket of this benchmark, named in the SDP);
- bargein_to_last_bot_packet: on a PCMU call, the caller's speech onset (first voiced 20 ms frame of
  what this benchmark sends as plain G.711 RTP, no audio-level extension) → the last bot packet
  before the bot falls silent;
- media_cpu_pct_<codec>: the media plane's CPU (media-controller + mediasoup service + its
  workers, % of one core) over one whole call, INVITE to BYE, the same call in G.711 (PCMU) and in
  Opus in the same run: the bot's greeting one way, the caller's (silent) audio the other.

`python -m bench.sip [--quick]` prints the JSON summary (p50/p95/p99 per figure)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import struct
import time
from datetime import datetime
from pathlib import Path

import av
import numpy as np
from voicebot_stack.fullstack import FullStack
from voicebot_stack.procstat import CpuWindow

from bench.audio import speech, voiced_frames
from bench.context import BenchContext, Options
from bench.registry import scenario
from bench.results import Result
from bench.stack import full_stack
from tests.sip.peer_call import CODECS as PEER_CODECS
from tests.sip.peer_call import wait_record
from tests.sip.rtp_peer import RtpPeer
from tests.sip.support import SipGateway, start_sip_gateway, start_sipp_call
from tests.support.nginx import NginxGateway, make_certs

CALLS = (20, 5)  # full, --quick
BARGE_CALLS = (10, 3)
CPU_CALLS = (6, 3)  # per codec
CPU_HOLD_S = 4.0
CODECS = {
    "opus": {"pt": "100", "codec": "opus/48000/2", "rate": "48000"},
    "pcmu": {"pt": "0", "codec": "PCMU/8000", "rate": "8000"},
}
BLOCK = re.compile(
    r"-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"  # SIPp's stamp of one message
    r"(UDP message (?:sent|received)[^\n]*)\n\n(.*?)(?=\n-{20,} \d{4}|\Z)",
    re.S,
)
SILENCE_S = 0.6  # the bot is "silent" after this long without a packet


class Arrivals(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.times: list[float] = []
        self.first = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12 and not 200 <= data[1] <= 206:  # RTP only: RTCP shares the port (rtcp-mux)
            self.times.append(time.time())
            self.first.set()


def sip_times(message_log: str) -> tuple[float, float] | None:
    """(INVITE sent, its 200 OK received) as wall-clock seconds, from SIPp's -trace_msg log."""
    invite = ok = None
    for stamp, kind, text in BLOCK.findall(message_log):
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if invite is None and "sent" in kind and text.startswith("INVITE "):
            invite = at
        if (
            ok is None
            and "received" in kind
            and text.startswith("SIP/2.0 200")
            and "INVITE" in text.split("CSeq:")[1][:30]
        ):
            ok = at
    return (invite, ok) if invite is not None and ok is not None else None


def pcmu_packets(text: str) -> tuple[list[bytes], int]:
    """20 ms μ-law payloads of the speech (PyAV resamples and encodes), and its first voiced frame."""
    pcm = speech(text)
    onset, _ = voiced_frames(pcm)
    encoder = av.CodecContext.create("pcm_mulaw", "w")
    encoder.sample_rate, encoder.format, encoder.layout = 8000, "s16", "mono"
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm, np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = 16000
    resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
    payload = b"".join(bytes(p) for f in resampler.resample(frame) for p in encoder.encode(f))
    return [payload[i : i + 160] for i in range(0, len(payload) - 159, 160)], onset


async def send_speech(sock: asyncio.DatagramTransport, to: tuple[str, int], ssrc: int, text: str) -> float:
    """Plain RTP, PT 0, 20 ms pace, from the socket the bot's RTP arrives on (symmetric RTP: the
    transport drops packets from any other address); returns the wall-clock time of the onset."""
    payloads, onset = pcmu_packets(text)
    start = time.time()
    for n, payload in enumerate(payloads):
        header = struct.pack("!BBHII", 0x80, 0x80 if n == 0 else 0, n & 0xFFFF, n * 160, ssrc)
        sock.sendto(header + payload, to)
        await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - time.time()))
    return start + onset * 0.02


async def one_call(gw: SipGateway, work: Path, codec: str, barge: bool) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    transport, arrivals = await loop.create_datagram_endpoint(Arrivals, local_addr=("127.0.0.1", 0))
    rtp_port = transport.get_extra_info("sockname")[1]
    ssrc = secrets.randbelow(2**31) + 1
    messages = work / f"call-{rtp_port}.msg"
    keys = {
        **CODECS[codec],
        "rtp_port": str(rtp_port),
        "ssrc": str(ssrc),
        "caller_name": "Ann",
        "customer_id": "bench",
    }
    extra = ["-d", "6000" if barge else "2500", "-timeout", "40s", "-timeout_error"]
    extra += ["-trace_msg", "-message_file", str(messages)]
    proc = await start_sipp_call(gw.sip_port, "bench_call", keys, work, extra=extra)
    figures: dict[str, float] = {}
    try:
        if barge:
            ended = asyncio.ensure_future(proc.wait())
            greeted = asyncio.ensure_future(arrivals.first.wait())
            await asyncio.wait({ended, greeted}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            greeted.cancel()
            if not arrivals.first.is_set():  # refused, or no greeting: the status below says which
                barge = False
            await asyncio.sleep(0.4)  # well inside the greeting
            answered = [r for r in gw.records("answered") if r.get("media_at")][-1]
            ip, port = answered["media_at"]
            onset = await send_speech(transport, (ip, int(port)), ssrc, "wednesday morning please")
            after = [t for t in arrivals.times if t >= onset]
            last = onset
            for t in after:
                if t - last > SILENCE_S:
                    break
                last = t
            figures["bargein_to_last_bot_packet"] = (last - onset) * 1000
        returncode = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
        transport.close()
    log = messages.read_text(errors="replace") if messages.exists() else ""
    if returncode != 0:
        finals = [c for c in re.findall(r"^SIP/2\.0 (\d{3})", log, re.M) if not c.startswith("1")]
        answer = finals[0] if finals else "nothing"
        raise RuntimeError(f"SIPp failed ({returncode}), {codec} call answered {answer}")
    times = sip_times(log)
    if times is None:
        raise RuntimeError("no INVITE/200 OK in SIPp's message log")
    figures["invite_to_200"] = (times[1] - times[0]) * 1000
    if arrivals.times:
        figures["ok_to_first_bot_rtp"] = (arrivals.times[0] - times[1]) * 1000
    return figures


def media_pids(stack: FullStack) -> dict[str, list[int]]:
    media = stack.media
    return {
        "controller": [media.controller.pid],
        "service": [media.service.pid],
        "worker": media.worker_pids(),
    }


async def cpu_call(gw: SipGateway, work: Path, codec: str, pids: dict[str, list[int]]) -> float:
    """One call, both ways (the bot's greeting; the caller's RTP, silence, for the whole hold):
    the media plane's CPU over the call, % of one core."""
    peer = await RtpPeer.open()
    ssrc = secrets.randbelow(2**31) + 1
    keys = {**PEER_CODECS[codec], "rtp_port": str(peer.port), "ssrc": str(ssrc)}
    keys |= {"caller_name": "Ann", "customer_id": "cpu"}
    extra = ["-d", str(int(CPU_HOLD_S * 1000)), "-timeout", "40s", "-timeout_error"]
    window = CpuWindow(pids).start()
    proc = await start_sipp_call(gw.sip_port, "bench_call", keys, work, extra=extra)
    talk: asyncio.Task[float] | None = None
    try:
        answered = await wait_record(
            lambda: gw.records("answered"),
            lambda r: r.get("rtp_to") == ["127.0.0.1", peer.port],
            "200 OK",
            20,
        )
        ip, port = answered["media_at"]
        silence = bytes(int(CPU_HOLD_S * 16000) * 2)
        talk = asyncio.create_task(
            peer.say(codec, (ip, int(port)), ssrc, silence, int(PEER_CODECS[codec]["pt"]))
        )
        returncode = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if talk is not None:
            talk.cancel()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        peer.close()
    usage = window.stop()
    if returncode != 0:
        raise RuntimeError(f"SIPp failed ({returncode}) on a {codec} call")
    return sum(usage.values())


@scenario("sip.call", "SIPp through the SIP gateway: INVITE → 200 OK, 200 OK → first bot RTP, G.711 barge-in")
async def sip_call(ctx: BenchContext) -> Result:
    calls, barge_calls = (
        ctx.options.pick(CALLS[0], CALLS[1]),
        ctx.options.pick(BARGE_CALLS[0], BARGE_CALLS[1]),
    )
    cpu_calls = ctx.options.pick(CPU_CALLS[0], CPU_CALLS[1])
    result = Result(
        info={
            "calls": calls,
            "barge_in_calls": barge_calls,
            "sequential": True,
            "cpu_calls_per_codec": cpu_calls,
            "cpu_hold_s": CPU_HOLD_S,
            "target": "SIPp → sip-gateway → nginx TLS → call-api (real Orchestrator) → mediasoup",
        }
    )
    invite = result.figure("invite_to_200", goal="p99 ≤ 500 ms")
    first = result.figure("ok_to_first_bot_rtp")
    barge = result.figure("bargein_to_last_bot_packet_pcmu")
    cpu = {codec: result.figure(f"media_cpu_pct_{codec}", unit="%") for codec in ("pcmu", "opus")}
    work = ctx.scratch("sip")
    started = time.perf_counter()
    with full_stack(work / "stack") as stack:
        certs = make_certs(work / "certs")
        with NginxGateway(work / "nginx", certs, [f"127.0.0.1:{stack.call_api.port}"]) as nginx:
            gw = start_sip_gateway(work / "logs", nginx, certs)
            try:
                for codec, count, with_barge in (("opus", calls, False), ("pcmu", barge_calls, True)):
                    for _ in range(count):
                        try:
                            figures = await one_call(gw, work, codec, with_barge)
                        except (RuntimeError, TimeoutError, IndexError) as error:
                            result.failures.append(f"{codec}: {error!r}")
                            continue
                        invite.add(figures["invite_to_200"])
                        if "ok_to_first_bot_rtp" in figures:
                            first.add(figures["ok_to_first_bot_rtp"])
                        if "bargein_to_last_bot_packet" in figures:
                            barge.add(figures["bargein_to_last_bot_packet"])
                        elif with_barge:
                            result.failures.append(f"{codec}: no bot RTP to talk over")
                pids = media_pids(stack)
                for _ in range(cpu_calls):  # interleaved, so both codecs see the same machine
                    for codec, figure in cpu.items():
                        try:
                            figure.add(await cpu_call(gw, work, codec, pids))
                        except (RuntimeError, TimeoutError) as error:
                            result.failures.append(f"cpu {codec}: {error!r}")
            finally:
                gw.stop()
    result.wall_s = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sip", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    ctx = BenchContext(Options(quick=args.quick))
    try:
        result = asyncio.run(sip_call(ctx))
    finally:
        ctx.close()
    print(json.dumps(result.summary(), indent=2))


if __name__ == "__main__":
    main()
