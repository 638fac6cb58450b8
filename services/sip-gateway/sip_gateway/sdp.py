"""SDP offer/answer (RFC 3264) for one audio stream: read the trunk's offer with sippy's SDP parser,
choose the codec, write the answer that points the trunk at mediasoup's address and port."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sippy.SdpBody import SdpBody

from sip_gateway.codecs import SUPPORTED, TELEPHONE_EVENT, Codec, by_name, by_static_payload_type

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


class OfferError(ValueError):
    """The body is not an SDP offer with an audio stream we can use (answered 400/488)."""


@dataclass(frozen=True)
class OfferedFormat:
    payload_type: int
    codec: Codec


@dataclass(frozen=True)
class Offer:
    address: str  # where the trunk receives RTP (c=)
    port: int  # m= port; 0 means the stream is rejected
    formats: tuple[OfferedFormat, ...]  # supported ones, in the offer's order of preference
    dtmf_payload_types: dict[int, int] = field(default_factory=dict)  # clock rate → telephone-event PT
    direction: str = "sendrecv"
    ssrc: int | None = None  # a=ssrc, when the trunk signals it

    @property
    def on_hold(self) -> bool:
        return self.direction in ("sendonly", "inactive") or self.address in ("0.0.0.0", "::")


@dataclass(frozen=True)
class Choice:
    payload_type: int
    codec: Codec
    dtmf_payload_type: int | None


def parse_offer(text: str) -> Offer:
    try:
        body = SdpBody(text)
    except Exception as error:  # sippy raises its own and plain parse errors alike
        raise OfferError(f"malformed SDP: {error}") from error
    audio = next((s for s in body.sections if str(s.m_header.stype).lower() == "audio"), None)
    if audio is None:
        raise OfferError("no audio stream in the offer")
    if str(audio.m_header.transport).upper() not in ("RTP/AVP", "RTP/AVPF"):
        raise OfferError(f"unsupported transport {audio.m_header.transport}")
    attributes = [(a.name.lower(), a.value) for a in body.a_headers + audio.a_headers]
    rtpmaps: dict[int, tuple[str, int]] = {}
    for name, value in attributes:
        if name == "rtpmap" and value:
            pt, _, encoding = value.partition(" ")
            parts = encoding.split("/")
            if pt.isdigit() and len(parts) >= 2 and parts[1].isdigit():
                rtpmaps[int(pt)] = (parts[0].lower(), int(parts[1]))
    formats: list[OfferedFormat] = []
    dtmf: dict[int, int] = {}
    for pt in audio.m_header.formats:
        if pt in rtpmaps:
            name, rate = rtpmaps[pt]
            if name == TELEPHONE_EVENT:
                dtmf.setdefault(rate, pt)
                continue
            codec = by_name(name, rate)
        else:
            codec = by_static_payload_type(pt)
        if codec is not None:
            formats.append(OfferedFormat(pt, codec))
    direction = next((n for n, _ in reversed(attributes) if n in DIRECTIONS), "sendrecv")
    ssrc = next(
        (int(v.split()[0]) for n, v in attributes if n == "ssrc" and v and v.split()[0].isdigit()), None
    )
    return Offer(
        address=str(audio.c_header.addr),
        port=int(audio.m_header.port),
        formats=tuple(formats),
        dtmf_payload_types=dtmf,
        direction=direction,
        ssrc=ssrc,
    )


def negotiate(offer: Offer, router_mime_types: set[str] | None = None) -> Choice | None:
    """The first offered codec we (and the router, when known) take; None means 488."""
    for offered in offer.formats:
        if router_mime_types is not None and offered.codec.mime_type.lower() not in router_mime_types:
            continue
        # RFC 4733 events at 8 kHz only: the media plane's telephone-event (on an Opus line too).
        dtmf = offer.dtmf_payload_types.get(8000)
        if router_mime_types is not None and "audio/telephone-event" not in router_mime_types:
            dtmf = None
        return Choice(offered.payload_type, offered.codec, dtmf)
    return None


def answer_direction(offer_direction: str) -> str:
    return {"sendonly": "recvonly", "recvonly": "sendonly"}.get(offer_direction, offer_direction)


def build_answer(choice: Choice, ip: str, port: int, *, direction: str = "sendrecv", version: int = 1) -> str:
    """The answer: mediasoup's PlainTransport address and port, the chosen codec (+ telephone-event)."""
    session = int(time.time())
    formats = [str(choice.payload_type)]
    attributes = [f"a=rtpmap:{choice.codec.rtpmap(choice.payload_type)}"]
    if choice.dtmf_payload_type is not None:
        formats.append(str(choice.dtmf_payload_type))
        attributes.append(f"a=rtpmap:{choice.dtmf_payload_type} {TELEPHONE_EVENT}/8000")
        attributes.append(f"a=fmtp:{choice.dtmf_payload_type} 0-16")
    if choice.codec.clock_rate == 8000:
        attributes.append("a=ptime:20")
    family = "IP6" if ":" in ip else "IP4"
    lines = [
        "v=0",
        f"o=voicebot {session} {version} IN {family} {ip}",
        "s=voicebot",
        f"c=IN {family} {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(formats)}",
        *attributes,
        f"a={direction}",
    ]
    return "\r\n".join(lines) + "\r\n"


def supported_names() -> str:
    return ", ".join(c.name for c in SUPPORTED)
