"""One SIPp call whose RTP end is this test's socket (tests/sip/rtp_peer.py), and waits on what the
services log about it: each wait is for an event (a log record), bounded by a generous timeout that
only matters when something is broken."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebot_stack.procs import Proc

from tests.sip.rtp_peer import RtpPeer
from tests.sip.support import SipGateway, start_sipp_call

CODECS = {
    "opus": {"pt": "100", "codec": "opus/48000/2", "rate": "48000"},
    "pcmu": {"pt": "0", "codec": "PCMU/8000", "rate": "8000"},
    "pcma": {"pt": "8", "codec": "PCMA/8000", "rate": "8000"},
}
FRAME_MS = 20  # the media-controller's packet: played_ms = packets × 20

Record = dict[str, Any]


def json_records(proc: Proc) -> list[Record]:
    return [json.loads(line) for line in proc.output().splitlines() if line.startswith("{")]


async def wait_record(
    source: Callable[[], list[Record]], match: Callable[[Record], bool], what: str, timeout: float = 60
) -> Record:
    """The first record of `source` that matches, as soon as it is logged."""
    deadline = time.monotonic() + timeout
    while True:
        found = next((r for r in source() if match(r)), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f}s")
        await asyncio.sleep(0.05)


async def wait_packets(peer: RtpPeer, count: int, what: str, timeout: float = 30) -> None:
    """Until the peer holds `count` RTP packets (those the media plane says it sent)."""
    deadline = time.monotonic() + timeout
    while len(peer.arrivals) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {len(peer.arrivals)} of {count} RTP packets within {timeout:.0f}s")
        await asyncio.sleep(0.05)


@dataclass
class PeerCall:
    gateway: SipGateway
    peer: RtpPeer
    codec: str
    ssrc: int
    call_id: str
    media_at: tuple[str, int]  # the 200 OK's address: mediasoup's PlainTransport

    @property
    def payload_type(self) -> int:
        return int(CODECS[self.codec]["pt"])

    def of_call(self, records: list[Record]) -> list[Record]:
        """This call's records; the media plane names a call within its gateway (`local~<id>`)."""
        return [r for r in records if str(r.get("call_id", "")).rpartition("~")[2] == self.call_id]

    async def transcript(self, role: str, what: str, timeout: float = 60, **fields: Any) -> Record:
        return await wait_record(
            lambda: self.of_call(self.gateway.records("transcript")),
            lambda r: r.get("role") == role and all(r.get(k) == v for k, v in fields.items()),
            what,
            timeout,
        )


@asynccontextmanager
async def peer_call(
    gateway: SipGateway,
    tmp_path: Path,
    codec: str,
    *,
    caller_name: str = "Ann",
    customer_id: str = "t",
    via: tuple[int, str] | None = None,
) -> AsyncIterator[PeerCall]:
    """SIPp places the call (tests/sip/scenarios/held_call.xml) with the peer's port in its offer;
    yields once the gateway answered it. On exit the call is ended by the bot (hang_up). `via`:
    the (port, SIPp transport) SIPp calls instead of the gateway's UDP port (Kamailio's TCP)."""
    peer = await RtpPeer.open()
    ssrc = secrets.randbelow(2**31) + 1
    keys = {**CODECS[codec], "rtp_port": str(peer.port), "ssrc": str(ssrc)}
    keys |= {"caller_name": caller_name, "customer_id": customer_id}
    port, transport = via or (gateway.sip_port, "u1")
    proc = await start_sipp_call(port, "held_call", keys, tmp_path, transport=transport)
    media_key: tuple[str, int, int] | None = None
    try:
        answered = await wait_record(
            lambda: gateway.records("answered"),
            lambda r: r.get("rtp_to") == ["127.0.0.1", peer.port],
            "200 OK for the call",
            30,
        )
        ip, port = answered["media_at"]
        media_key = (str(ip), int(port), ssrc)
        yield PeerCall(gateway, peer, codec, ssrc, str(answered["call_id"]), (str(ip), int(port)))
    finally:
        await hang_up(proc, peer, codec, media_key)
        peer.close()


async def hang_up(
    proc: asyncio.subprocess.Process, peer: RtpPeer, codec: str, media: tuple[str, int, int] | None
) -> None:
    """Key 0 by RFC 4733 asks for the reception in any state of the appointment dialog: the bot
    sends REFER, SIPp declines it and hangs up with BYE (held_call.xml). A call the bot ended
    already has ended SIPp too."""
    if proc.returncode is None and media is not None:
        ip, port, ssrc = media
        # A phone's stream is continuous: audio (here silence) around the key press.
        await peer.say(codec, (ip, port), ssrc, bytes(6400), int(CODECS[codec]["pt"]))
        await peer.press((ip, port), ssrc, "0")
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            pass
    if proc.returncode is None:
        proc.kill()
    await proc.wait()
