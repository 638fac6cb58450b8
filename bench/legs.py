"""A gateway's two media legs for benchmarks (as voicebot_callsim.legs.connect_gateway), but the
bot's audio arrives at an RtpProbe (kernel receive times)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicebot_callsim.legs import Signal
from voicebot_callsim.rtp import RtpOpusSender, caller_rtp_parameters

from bench.rtpprobe import RtpProbe


@dataclass
class ProbeLegs:
    sender: RtpOpusSender
    probe: RtpProbe
    bot_ssrc: int

    def close(self) -> None:
        self.sender.close()
        self.probe.close()


async def open_legs(signal: Signal, *, caller_ssrc: int = 0x5EED_0001) -> ProbeLegs:
    caller = await signal("createPlainTransport", {"comedia": True})
    await signal(
        "produce",
        {
            "transport_id": caller["transport_id"],
            "kind": "audio",
            "rtp_parameters": caller_rtp_parameters(caller_ssrc),
        },
    )
    probe = RtpProbe.open()
    try:
        bot = await signal("createPlainTransport", {"comedia": False})
        await signal(
            "connectPlainTransport",
            {"transport_id": bot["transport_id"], "ip": "127.0.0.1", "port": probe.port},
        )
        consumed: dict[str, Any] = await signal(
            "consume", {"transport_id": bot["transport_id"], "producer_id": "bot"}
        )
    except BaseException:
        probe.close()
        raise
    sender = RtpOpusSender(int(caller["port"]), caller["ip"], ssrc=caller_ssrc)
    return ProbeLegs(sender, probe, int(consumed["rtp_parameters"]["encodings"][0]["ssrc"]))
