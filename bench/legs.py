"""A gateway's two media legs for benchmarks (as voicebot_callsim.legs.connect_gateway), but the
bot's audio arrives at an RtpProbe (kernel receive times)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicebot_callsim.legs import Signal
from voicebot_callsim.rtp import OPUS_PT, RtpOpusSender, caller_rtp_parameters

from bench.rtpprobe import RtpProbe


@dataclass
class ProbeLegs:
    sender: RtpOpusSender
    probe: RtpProbe
    bot_ssrc: int

    def close(self) -> None:
        self.sender.close()
        self.probe.close()


PCMU_PT = 0


def caller_parameters(codec: str, ssrc: int) -> dict[str, Any]:
    """The caller producer's RTP parameters: Opus (callsim's) or G.711 μ-law."""
    if codec == "opus":
        return caller_rtp_parameters(ssrc)
    assert codec == "pcmu", codec
    return {
        "codecs": [{"mimeType": "audio/PCMU", "payloadType": PCMU_PT, "clockRate": 8000}],
        "encodings": [{"ssrc": ssrc}],
    }


async def open_legs(signal: Signal, *, caller_ssrc: int = 0x5EED_0001, codec: str = "opus") -> ProbeLegs:
    """`codec`: of the caller's leg (the bot's comes in the session's codec)."""
    caller = await signal("createPlainTransport", {"comedia": False})
    payload_type = PCMU_PT if codec == "pcmu" else OPUS_PT
    sender = RtpOpusSender(int(caller["port"]), caller["ip"], ssrc=caller_ssrc, payload_type=payload_type)
    await signal(
        "connectPlainTransport",
        {"transport_id": caller["transport_id"], "ip": "127.0.0.1", "port": sender.local_port},
    )
    await signal(
        "produce",
        {
            "transport_id": caller["transport_id"],
            "kind": "audio",
            "rtp_parameters": caller_parameters(codec, caller_ssrc),
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
        sender.close()
        raise
    return ProbeLegs(sender, probe, int(consumed["rtp_parameters"]["encodings"][0]["ssrc"]))
