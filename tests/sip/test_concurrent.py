"""20 concurrent SIP calls (Opus, PCMU) through the gateway, each with audio both ways: the bot's
greeting arrives as RTP in the call's codec at each offer's address, and each caller's speech, sent
from that same address to the 200 OK's, reaches the media plane as an utterance of that call."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from voicebot_callsim.audio import speech_pcm

from tests.sip.rtp_peer import RtpPeer
from tests.sip.support import SipGateway, start_sipp_call
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway
from tests.support.procs import wait_until

pytestmark = pytest.mark.stack
CALLS = 20
CODECS = {
    "opus": ({"pt": "100", "codec": "opus/48000/2", "rate": "48000"}, 100),
    "pcmu": ({"pt": "0", "codec": "PCMU/8000", "rate": "8000"}, 0),
}


async def one_call(gateway: SipGateway, work: Path, n: int, codec: str) -> str:
    offer, payload_type = CODECS[codec]
    peer = await RtpPeer.open()
    ssrc = secrets.randbelow(2**31) + 1
    keys = {
        **offer,
        "rtp_port": str(peer.port),
        "ssrc": str(ssrc),
        "caller_name": "Ann",
        "customer_id": f"c{n}",
    }
    extra = ["-d", "20000", "-timeout", "150s", "-timeout_error"]
    proc = await start_sipp_call(gateway.sip_port, "bench_call", keys, work, extra=extra)
    try:
        await asyncio.wait_for(peer.first.wait(), 60)  # the greeting reached the offer's address
        answered = [r for r in gateway.records("answered") if r.get("rtp_to") == ["127.0.0.1", peer.port]]
        assert answered, "no answered call for this RTP port"
        ip, port = answered[-1]["media_at"]
        call_id = str(answered[-1]["call_id"])
        assert {pt for _, pt in peer.arrivals} == {payload_type}  # the bot speaks the call's codec
        await peer.until_quiet(0.8, 90)
        await peer.say(codec, (ip, int(port)), ssrc, speech_pcm("yes please", 16000), payload_type)
        assert await asyncio.wait_for(proc.wait(), 150) == 0
        return call_id
    finally:
        if proc.returncode is None:
            proc.kill()
        peer.close()


@pytest.mark.sip_load
@pytest.mark.parametrize("codec", list(CODECS))
async def test_twenty_concurrent_calls_with_audio_both_ways(
    sip_stack: tuple[FullStack, NginxGateway, SipGateway], tmp_path: Path, codec: str
) -> None:
    stack, _, gateway = sip_stack
    call_ids = await asyncio.gather(*(one_call(gateway, tmp_path, n, codec) for n in range(CALLS)))
    assert len(set(call_ids)) == CALLS

    # The caller's RTP reached the media plane and made an utterance there (VAD → STT → "caller
    # said" in call-api's log). What STT makes of it under this load is the single-call tests' job
    # (test_bargein.py: understood); here 20 calls share one gunicorn worker and two cores.

    def heard() -> set[str]:
        return {str(r.get("call_id")) for r in stack.call_api.log_records("caller said")}

    await asyncio.to_thread(wait_until, lambda: set(call_ids) <= heard(), 60, "an utterance of every caller")
