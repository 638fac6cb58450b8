"""20 concurrent SIP calls through the gateway, each with audio both ways: the bot's greeting
arrives as RTP at each offer's address, and each caller's speech, sent from that same address to
the 200 OK's, is understood (a `transcript` of the caller for that call)."""

from __future__ import annotations

import asyncio
import secrets
import socket
from pathlib import Path

import pytest

from tests.sip.rtp_peer import RtpPeer
from tests.sip.support import SCENARIOS, SipGateway
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.stack
CALLS = 20
OPUS = {"pt": "100", "codec": "opus/48000/2", "rate": "48000"}


async def one_call(gateway: SipGateway, work: Path, n: int) -> str:
    peer = await RtpPeer.open()
    ssrc = secrets.randbelow(2**31) + 1
    keys = {
        **OPUS,
        "rtp_port": str(peer.port),
        "ssrc": str(ssrc),
        "caller_name": "Ann",
        "customer_id": f"c{n}",
    }
    cmd = ["sipp", f"127.0.0.1:{gateway.sip_port}", "-sf", str(SCENARIOS / "bench_call.xml"), "-s", "bot"]
    cmd += ["-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-m", "1", "-nostdin", "-d", "25000"]
    cmd += ["-timeout", "90s", "-timeout_error"]
    for key, value in keys.items():
        cmd += ["-key", key, value]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=work
    )
    try:
        await asyncio.wait_for(peer.first.wait(), 60)  # the greeting reached the offer's address
        answered = [r for r in gateway.records("answered") if r.get("rtp_to") == ["127.0.0.1", peer.port]]
        assert answered, "no answered call for this RTP port"
        ip, port = answered[-1]["media_at"]
        await peer.until_quiet(0.8, 60)
        await peer.say_opus((ip, int(port)), ssrc, "yes please")
        assert await asyncio.wait_for(proc.wait(), 90) == 0
        return str(answered[-1]["call_id"])
    finally:
        if proc.returncode is None:
            proc.kill()
        peer.close()


async def test_twenty_concurrent_calls_with_audio_both_ways(
    sip_stack: tuple[FullStack, NginxGateway, SipGateway], tmp_path: Path
) -> None:
    _, _, gateway = sip_stack
    call_ids = await asyncio.gather(*(one_call(gateway, tmp_path, n) for n in range(CALLS)))
    assert len(set(call_ids)) == CALLS

    def understood() -> set[str]:
        return {r["call_id"] for r in gateway.records("transcript") if r.get("role") == "caller"}

    await asyncio.to_thread(
        wait_until, lambda: set(call_ids) <= understood(), 60, "a caller transcript per call"
    )
