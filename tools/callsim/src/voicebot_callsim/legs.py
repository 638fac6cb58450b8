"""The two media legs a gateway sets up for one call, through mediasoup_request signalling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from voicebot_callsim.rtp import RtpOpusReceiver, RtpOpusSender, caller_rtp_parameters

Signal = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class GatewayLegs:
    """What a telephony gateway sets up for one call: a leg that sends the caller's audio (a
    PlainTransport connected to the gateway's own sending address, so mediasoup ignores every
    other source, + producer) and a leg that receives the bot's (PlainTransport + consumer)."""

    caller_transport_id: str
    caller_producer_id: str
    sender: RtpOpusSender
    bot_transport_id: str
    bot_consumer_id: str
    receiver: RtpOpusReceiver
    bot_ssrc: int  # of the bot's RTP as it arrives at receiver.port
    bot_payload_type: int

    def close(self) -> None:
        self.sender.close()
        self.receiver.close()


async def connect_gateway(
    signal: Signal, *, caller_ssrc: int = 0x5EED_0001, audio_level: bool = False
) -> GatewayLegs:
    """Run the mediasoup_request methods a gateway needs, through `signal` (e.g. MediaSession.signal)."""
    caller = await signal("createPlainTransport", {"comedia": False})
    sender = RtpOpusSender(int(caller["port"]), caller["ip"], ssrc=caller_ssrc)
    # Not comedia: a comedia leg would latch onto whoever sends first (a hijack, docs/security.md).
    await signal(
        "connectPlainTransport",
        {"transport_id": caller["transport_id"], "ip": "127.0.0.1", "port": sender.local_port},
    )
    produced = await signal(
        "produce",
        {
            "transport_id": caller["transport_id"],
            "kind": "audio",
            "rtp_parameters": caller_rtp_parameters(caller_ssrc, audio_level=audio_level),
        },
    )
    receiver = await RtpOpusReceiver.open()
    bot = await signal("createPlainTransport", {"comedia": False})
    await signal(
        "connectPlainTransport",
        {"transport_id": bot["transport_id"], "ip": "127.0.0.1", "port": receiver.port},
    )
    consumed = await signal("consume", {"transport_id": bot["transport_id"], "producer_id": "bot"})
    rtp = consumed["rtp_parameters"]
    return GatewayLegs(
        caller["transport_id"],
        produced["producer_id"],
        sender,
        bot["transport_id"],
        consumed["consumer_id"],
        receiver,
        int(rtp["encodings"][0]["ssrc"]),
        int(rtp["codecs"][0]["payloadType"]),
    )
