"""The audio codecs the gateway offers to trunks, and how each is named to mediasoup."""

from __future__ import annotations

from dataclasses import dataclass

from voicebot_protocol.media import CallCodec


@dataclass(frozen=True)
class Codec:
    name: CallCodec  # the SDP encoding name, lowercase: also call_start.codec
    clock_rate: int
    channels: int
    static_payload_type: int | None  # RFC 3551's fixed number, None for dynamic codecs

    @property
    def mime_type(self) -> str:
        return f"audio/{'opus' if self.name == 'opus' else self.name.upper()}"

    def rtpmap(self, payload_type: int) -> str:
        channels = f"/{self.channels}" if self.channels > 1 else ""
        encoding = "opus" if self.name == "opus" else self.name.upper()
        return f"{payload_type} {encoding}/{self.clock_rate}{channels}"


PCMU = Codec("pcmu", 8000, 1, 0)
PCMA = Codec("pcma", 8000, 1, 8)
OPUS = Codec("opus", 48000, 2, None)
SUPPORTED: tuple[Codec, ...] = (PCMU, PCMA, OPUS)
TELEPHONE_EVENT = "telephone-event"


def by_name(name: str, clock_rate: int) -> Codec | None:
    for codec in SUPPORTED:
        if codec.name == name.lower() and codec.clock_rate == clock_rate:
            return codec
    return None


def by_static_payload_type(payload_type: int) -> Codec | None:
    return next((c for c in SUPPORTED if c.static_payload_type == payload_type), None)


def router_mime_types(rtp_capabilities: dict[str, object]) -> set[str]:
    """The lowercase mime types the mediasoup router takes (getRouterRtpCapabilities)."""
    codecs = rtp_capabilities.get("codecs")
    if not isinstance(codecs, list):
        return set()
    return {str(c.get("mimeType", "")).lower() for c in codecs if isinstance(c, dict)}
