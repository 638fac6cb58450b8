"""Messages of the /api/v1/call WebSocket (client = the telephony gateway).

The spec's shapes are kept exactly; events and fields marked *additive* are ours
(protocol version 1) and documented in docs/protocol.md."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PROTOCOL_VERSION = 1

CallId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@+-]+$")]
TraceId = Annotated[str, StringConstraints(max_length=128)]
VarValue = str | int | float | bool | None


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class Payload(BaseModel):
    # Unknown payload fields are ignored, so newer gateways can talk to older servers.
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- client → server -------------------------------------------------------


class CallStartPayload(Payload):
    call_id: CallId
    trace_id: TraceId | None = None
    initial_vars: dict[str, VarValue] = Field(default_factory=dict, max_length=64)
    # additive: the call's audio codec, as the gateway negotiated it (e.g. from the SDP offer);
    # the bot's RTP is sent in it (absent: opus). docs/protocol.md, "call_start".
    codec: Literal["opus", "pcmu", "pcma"] | None = None


class CallStart(Message):
    event: Literal["call_start"] = "call_start"
    payload: CallStartPayload


class MediasoupRequestPayload(Payload):
    """Passed through to the media-controller: `method` from a whitelist, `data` its arguments."""

    request_id: str | int | None = None
    method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    data: dict[str, Any] = Field(default_factory=dict)


class MediasoupRequest(Message):
    event: Literal["mediasoup_request"] = "mediasoup_request"
    payload: MediasoupRequestPayload


class CallTerminated(Message):
    event: Literal["call_terminated"] = "call_terminated"
    payload: dict[str, Any] | None = None


class PlaybackAckPayload(Payload):
    stream_id: str
    played_ms: int | None = Field(default=None, ge=0)


class PlaybackAck(Message):
    """Additive: the gateway says a stream finished playing on the phone (like Twilio's mark)."""

    event: Literal["playback_ack"] = "playback_ack"
    payload: PlaybackAckPayload


DtmfDigit = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D"]


class DtmfPayload(Payload):
    digit: DtmfDigit
    duration_ms: int | None = Field(default=None, ge=0, le=60_000)


class Dtmf(Message):
    """Additive: a key the caller pressed, as the gateway got it out of band (SIP INFO). Digits
    sent in the RTP (RFC 4733) are detected by the media plane itself: do not send those again."""

    event: Literal["dtmf"] = "dtmf"
    payload: DtmfPayload


class TransferResultPayload(Payload):
    ok: bool
    status: int | None = Field(default=None, ge=100, le=699)  # the SIP status of the REFER's outcome
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class TransferResult(Message):
    """Additive: the outcome of a `transfer` the server asked for. ok=true ends the call
    (`call_ended transferred`); ok=false lets the dialog go on."""

    event: Literal["transfer_result"] = "transfer_result"
    payload: TransferResultPayload


ClientMessage = Annotated[
    CallStart | MediasoupRequest | CallTerminated | PlaybackAck | Dtmf | TransferResult,
    Field(discriminator="event"),
]
CLIENT_EVENTS = (
    "call_start",
    "mediasoup_request",
    "call_terminated",
    "playback_ack",
    "dtmf",
    "transfer_result",
)


# --- server → client -------------------------------------------------------


class CallAcceptedPayload(Payload):
    status: Literal["ok"] = "ok"
    # additive
    call_id: str | None = None
    trace_id: str | None = None
    protocol_version: int | None = PROTOCOL_VERSION


class CallAccepted(Message):
    event: Literal["call_accepted"] = "call_accepted"
    payload: CallAcceptedPayload = Field(default_factory=CallAcceptedPayload)


class MediasoupResponsePayload(Payload):
    request_id: str | int | None = None
    ok: bool = True
    data: dict[str, Any] | None = None
    error: str | None = None
    code: str | None = None  # additive: with ok=false, the refusal's code (docs/media-signalling.md)


class MediasoupResponse(Message):
    event: Literal["mediasoup_response"] = "mediasoup_response"
    payload: MediasoupResponsePayload


class PlayAudioPayload(Payload):
    stream_id: str
    rtp_port: int = Field(ge=0, le=65535)
    codec: str = "opus"
    # additive: what the gateway needs to pick the stream out of the RTP it receives
    ssrc: int | None = None
    payload_type: int | None = None
    clock_rate: int | None = None
    text: str | None = None


class PlayAudio(Message):
    event: Literal["play_audio"] = "play_audio"
    payload: PlayAudioPayload


class StopAudioPayload(Payload):
    stream_id: str | None = None


class StopAudio(Message):
    """The spec's shape is `{"event": "stop_audio"}`; the payload is additive and optional."""

    event: Literal["stop_audio"] = "stop_audio"
    payload: StopAudioPayload | None = None


class CallFailed(Message):
    """Sent before acceptance, then the socket closes. `reason` is top-level, as in the spec."""

    event: Literal["call_failed"] = "call_failed"
    reason: str
    code: str | None = None  # additive: a FailureCode


class CallEnded(Message):
    """Additive: the server ended an accepted call (media failure, retries exhausted, drain, ...)."""

    event: Literal["call_ended"] = "call_ended"
    reason: str
    code: str | None = None  # an EndReason


class ErrorPayload(Payload):
    code: str  # an ErrorCode
    message: str


class ErrorEvent(Message):
    """Additive: a bad frame mid-call. The call goes on."""

    event: Literal["error"] = "error"
    payload: ErrorPayload


class TranscriptPayload(Payload):
    role: Literal["bot", "caller"]
    text: str
    final: bool = True
    interrupted: bool = False


class Transcript(Message):
    """Additive: what the bot said (as heard) and what the caller was understood to say."""

    event: Literal["transcript"] = "transcript"
    payload: TranscriptPayload


class TransferPayload(Payload):
    target: Annotated[str, StringConstraints(min_length=1, max_length=256)]  # e.g. "sip:agent@pbx"
    mode: Literal["blind"] = "blind"


class Transfer(Message):
    """Additive: hand the call to a human. A SIP gateway sends REFER (blind transfer) and answers
    with `transfer_result`."""

    event: Literal["transfer"] = "transfer"
    payload: TransferPayload


ServerMessage = Annotated[
    CallAccepted
    | MediasoupResponse
    | PlayAudio
    | StopAudio
    | CallFailed
    | CallEnded
    | ErrorEvent
    | Transcript
    | Transfer,
    Field(discriminator="event"),
]
