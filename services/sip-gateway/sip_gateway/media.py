"""The symmetric media leg, signalled through call-api: one PlainTransport (comedia off) connected
to the trunk's SDP address, the caller's producer and the bot's consumer on it. RTP then flows
trunk ↔ mediasoup; the gateway never touches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sip_gateway.callapi import CallApiSession
from sip_gateway.codecs import router_mime_types
from sip_gateway.sdp import Choice, Offer, negotiate


class NoCommonCodec(Exception):
    pass


@dataclass
class MediaLeg:
    transport_id: str
    ip: str
    port: int
    producer_id: str
    consumer_id: str
    choice: Choice
    remote: tuple[str, int]


def producer_rtp_parameters(choice: Choice, ssrc: int | None) -> dict[str, Any]:
    codec = choice.codec
    codecs: list[dict[str, Any]] = [
        {
            "mimeType": codec.mime_type,
            "payloadType": choice.payload_type,
            "clockRate": codec.clock_rate,
            **({"channels": codec.channels} if codec.channels > 1 else {}),
        }
    ]
    if choice.dtmf_payload_type is not None:
        codecs.append(
            {
                "mimeType": "audio/telephone-event",
                "payloadType": choice.dtmf_payload_type,
                "clockRate": 8000,  # negotiated at 8 kHz only, on an Opus line too
            }
        )
    # Trunks rarely signal their SSRC (a=ssrc); without it the media plane latches onto the stream.
    return {"codecs": codecs, "encodings": [{"ssrc": ssrc}] if ssrc else [{}]}


async def open_media_leg(api: CallApiSession, offer: Offer, declared: Choice) -> MediaLeg:
    """`declared`: the offer's choice, already named in call_start; the router must take it."""
    caps = await api.request("getRouterRtpCapabilities", {})
    choice = negotiate(offer, router_mime_types(caps.get("rtp_capabilities", caps)))
    if choice is None or choice.codec != declared.codec:
        raise NoCommonCodec()
    transport = await api.request("createPlainTransport", {"comedia": False, "rtcp_mux": True})
    transport_id = str(transport["transport_id"])
    await api.request(
        "connectPlainTransport", {"transport_id": transport_id, "ip": offer.address, "port": offer.port}
    )
    produced = await api.request(
        "produce",
        {
            "transport_id": transport_id,
            "kind": "audio",
            "rtp_parameters": producer_rtp_parameters(choice, offer.ssrc),
        },
    )
    consumed = await api.request("consume", {"transport_id": transport_id, "producer_id": "bot"})
    return MediaLeg(
        transport_id=transport_id,
        ip=str(transport["ip"]),
        port=int(transport["port"]),
        producer_id=str(produced["producer_id"]),
        consumer_id=str(consumed["consumer_id"]),
        choice=choice,
        remote=(offer.address, offer.port),
    )


async def set_hold(api: CallApiSession, leg: MediaLeg, on_hold: bool) -> None:
    """Hold: the bot's audio stops flowing to the trunk (paused consumer); unhold resumes it."""
    await api.request("pauseConsumer" if on_hold else "resumeConsumer", {"consumer_id": leg.consumer_id})
