"""The codecs a call's audio may use: what the router offers (services/mediasoup/lib/config.js),
how each is described in RTP parameters, and its encoder and decoder. mediasoup never transcodes:
the bot's producer is created in the call's codec, and the caller tap decodes whatever the
caller's producer uses."""

from dataclasses import dataclass, field
from typing import Any, Protocol

from voicebot_protocol.media import CallCodec

from media_controller.g711 import G711Decoder, G711Encoder
from media_controller.opus import OpusDecoder, OpusEncoder

TELEPHONE_EVENT_MIME = "audio/telephone-event"


class AudioEncoder(Protocol):
    def encode(self, pcm: bytes) -> list[bytes]: ...

    def flush(self) -> list[bytes]: ...


class AudioDecoder(Protocol):
    def decode(self, payload: bytes) -> bytes: ...


@dataclass(frozen=True)
class CodecSpec:
    name: CallCodec
    mime_type: str
    payload_type: int  # the router's (preferredPayloadType)
    clock_rate: int
    channels: int = 1
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def frame_samples(self) -> int:
        """RTP timestamp units per 20 ms frame."""
        return self.clock_rate // 50

    def rtp_codec(self) -> dict[str, Any]:
        codec: dict[str, Any] = {
            "mimeType": self.mime_type,
            "payloadType": self.payload_type,
            "clockRate": self.clock_rate,
            "parameters": dict(self.parameters),
        }
        if self.channels > 1:
            codec["channels"] = self.channels
        return codec

    def encoder(self, sample_rate: int, bitrate: int) -> AudioEncoder:
        if self.name == "opus":
            return OpusEncoder(sample_rate, bitrate)
        return G711Encoder("pcm_mulaw" if self.name == "pcmu" else "pcm_alaw", sample_rate)

    def decoder(self, output_rate: int) -> AudioDecoder:
        if self.name == "opus":
            return OpusDecoder(output_rate)
        return G711Decoder("pcm_mulaw" if self.name == "pcmu" else "pcm_alaw", output_rate)


OPUS = CodecSpec("opus", "audio/opus", 100, 48000, 2, {"sprop-stereo": 0, "useinbandfec": 1})
PCMU = CodecSpec("pcmu", "audio/PCMU", 0, 8000)
PCMA = CodecSpec("pcma", "audio/PCMA", 8, 8000)
CODECS: dict[str, CodecSpec] = {spec.name: spec for spec in (OPUS, PCMU, PCMA)}


def codec_of_mime(mime_type: str) -> CodecSpec | None:
    """The call codec of an RTP codec's mimeType (case-insensitive, as in SDP); None if none."""
    wanted = mime_type.lower()
    return next((spec for spec in CODECS.values() if spec.mime_type.lower() == wanted), None)


def media_codec_of(rtp_parameters: dict[str, Any]) -> tuple[CodecSpec, int] | None:
    """The first audio codec of RTP parameters we can decode, with its payload type there."""
    for codec in rtp_parameters.get("codecs") or []:
        spec = codec_of_mime(str(codec.get("mimeType", "")))
        if spec is not None:
            return spec, int(codec.get("payloadType", spec.payload_type))
    return None


def telephone_event_payload_type(rtp_parameters: dict[str, Any]) -> int | None:
    """The payload type of the RFC 4733 telephone-event codec in RTP parameters, if any."""
    for codec in rtp_parameters.get("codecs") or []:
        if str(codec.get("mimeType", "")).lower() == TELEPHONE_EVENT_MIME:
            return int(codec["payloadType"])
    return None
