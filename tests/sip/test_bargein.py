"""The caller's speech over SIP, as plain RTP without the audio-level extension (what trunks send):
talking over the bot stops the bot's RTP at the offer's address within a bound, and the speech is
understood (a caller transcript of that call)."""

from __future__ import annotations

import asyncio
import secrets
import socket
from pathlib import Path

import pytest
from voicebot_callsim.audio import speech_pcm

from tests.sip.rtp_peer import RtpPeer
from tests.sip.support import SCENARIOS, SipGateway
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.stack
CODECS = {
    "opus": {"pt": "100", "codec": "opus/48000/2", "rate": "48000"},
    "pcmu": {"pt": "0", "codec": "PCMU/8000", "rate": "8000"},
}
STOP_WITHIN_S = 1.5  # speech start → the bot's last packet (VAD onset + the stop)
QUIET_S = 0.6


@pytest.mark.parametrize("codec", list(CODECS))
async def test_talking_over_the_bot_stops_its_rtp_and_is_understood(
    sip_stack: tuple[FullStack, NginxGateway, SipGateway], tmp_path: Path, codec: str
) -> None:
    _, _, gateway = sip_stack
    peer = await RtpPeer.open()
    ssrc = secrets.randbelow(2**31) + 1
    keys = {
        **CODECS[codec],
        "rtp_port": str(peer.port),
        "ssrc": str(ssrc),
        "caller_name": "Ann",
        "customer_id": "b",
    }
    cmd = ["sipp", f"127.0.0.1:{gateway.sip_port}", "-sf", str(SCENARIOS / "bench_call.xml"), "-s", "bot"]
    cmd += ["-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-m", "1", "-nostdin", "-d", "15000"]
    for key, value in keys.items():
        cmd += ["-key", key, value]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL, cwd=tmp_path)
    try:
        ended = asyncio.ensure_future(proc.wait())
        await asyncio.wait(
            {ended, asyncio.ensure_future(peer.first.wait())}, timeout=30, return_when="FIRST_COMPLETED"
        )
        if (
            not peer.first.is_set()
            and codec != "opus"
            and any(r.get("status") == 488 for r in gateway.records("refused"))
        ):
            pytest.skip(f"{codec}: the media plane has no G.711 yet (answered 488)")
        assert peer.first.is_set(), "no bot RTP at the offer's address"
        answered = [r for r in gateway.records("answered") if r.get("rtp_to") == ["127.0.0.1", peer.port]][-1]
        ip, port = answered["media_at"]
        await asyncio.sleep(0.3)  # inside the greeting: talk while a packet just came in
        await asyncio.wait_for(peer.next_packet(), 5)
        began = await peer.say(
            codec, (ip, int(port)), ssrc, speech_pcm("yes please", 16000), int(CODECS[codec]["pt"])
        )
        assert any(began - 0.1 <= t < began for t, _ in peer.arrivals), (
            "the bot was not speaking: no barge-in"
        )
        await asyncio.sleep(QUIET_S + 0.2)
        after = [t for t, _ in peer.arrivals if t >= began]
        last = began
        for t in after:
            if t - last > QUIET_S:
                break
            last = t
        assert last - began < STOP_WITHIN_S, (
            f"the bot kept sending {last - began:.2f}s after the caller spoke"
        )
        call_id = answered["call_id"]
        await asyncio.to_thread(
            wait_until,
            lambda: any(
                r.get("role") == "caller" and r["call_id"] == call_id for r in gateway.records("transcript")
            ),
            20,
            "the caller's speech to be understood",
        )
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        peer.close()
