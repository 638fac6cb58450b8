"""The codecs a call's audio may use: what the router offers (services/mediasoup/lib/config.js),
how each is described in RTP parameters, and its encoder and decoder. mediasoup never transcodes:
the bot's producer is created in the call's codec, and the caller tap decodes whatever the
caller's producer uses."""

from dataclasses import dataclass, field
from typing import Any, Protocol

from voicebot_protocol.media import CallCodec

from media_controller.g711 import G711Decoder, G711Encoder
from media_controller.opus import DEFAULT_COMPLEXITY, OpusDecoder, OpusEncoder

TELEPHONE_EVENT_MIME = "audio/telephone-event"


class AudioEncoder(Protocol):
    def encode(self, pcm: bytes) -> list[bytes]: ...

    def flush(self) -> list[bytes]: ...


class AudioDecoder(Protocol):
    def decode(self, payload: bytes) -> bytes:
        """Raises ValueError on a corrupt payload."""
        ...


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

    def encoder(self, sample_rate: int, bitrate: int, complexity: int = DEFAULT_COMPLEXITY) -> AudioEncoder:
        if self.name == "opus":
            return OpusEncoder(sample_rate, bitrate, complexity)
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


def media_codec_of(
    rtp_parameters: dict[str, Any], dtmf_carrier: str | None = None
) -> tuple[CodecSpec, int] | None:
    """The first audio codec of RTP parameters we can decode (not the telephone-event carrier),
    with its payload type there."""
    for codec in rtp_parameters.get("codecs") or []:
        spec = codec_of_mime(str(codec.get("mimeType", "")))
        if spec is not None and spec.mime_type != dtmf_carrier:
            return spec, int(codec.get("payloadType", spec.payload_type))
    return None


# mediasoup's consumers forward only packets of media codecs (its worker counts telephone-event
# as a "complementary" codec and drops it in Consumer::supportedCodecPayloadTypes), so the
# caller's RFC 4733 packets would never reach the tap. The controller therefore declares the
# gateway's telephone-event payload type, in the caller's `produce`, as a G.711 codec the call
# does not use (the carrier): mediasoup forwards those packets under the router's payload type
# for that codec, and the tap reads them as telephone-events. The gateway sees none of this.
_CARRIERS = (PCMA, PCMU)


def carry_telephone_event(rtp_parameters: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The producer's RTP parameters with its telephone-event/8000 codec declared as a carrier,
    and the carrier's mimeType (None: no telephone-event, or no free carrier: left as it is)."""
    codecs = list(rtp_parameters.get("codecs") or [])
    used = {str(codec.get("mimeType", "")).lower() for codec in codecs}
    carrier = next((spec for spec in _CARRIERS if spec.mime_type.lower() not in used), None)
    for index, codec in enumerate(codecs):
        is_event = str(codec.get("mimeType", "")).lower() == TELEPHONE_EVENT_MIME
        if is_event and codec.get("clockRate") == 8000 and carrier is not None and index > 0:
            codecs[index] = {
                "mimeType": carrier.mime_type,
                "payloadType": codec.get("payloadType"),
                "clockRate": 8000,
            }
            return {**rtp_parameters, "codecs": codecs}, carrier.mime_type
    return rtp_parameters, None


def payload_type_of(rtp_parameters: dict[str, Any], mime_type: str | None) -> int | None:
    """The payload type of the codec of this mimeType in (a consumer's) RTP parameters."""
    if mime_type is None:
        return None
    for codec in rtp_parameters.get("codecs") or []:
        if str(codec.get("mimeType", "")).lower() == mime_type.lower():
            return int(codec["payloadType"])
    return None
