"""Internal messages between call-api and the media-controller.

HTTP (commands, JSON bodies), base URL = the controller's, e.g. http://127.0.0.1:8100:
  POST   /v1/sessions                     CreateSession        → 201 SessionInfo (idempotent per call_id)
  DELETE /v1/sessions/{call_id}                                → 204 (idempotent)
  POST   /v1/sessions/{call_id}/signal    SignalRequest        → SignalResponse | MediaApiError
  GET    /v1/sessions/{call_id}/stats                          → the call's transports, producers, consumers
  GET    /v1/sessions/{call_id}/events    WebSocket: the per-call channel below (one at a time, else 409)
  GET    /v1/stats                                             → the mediasoup service's stats (workers…)
  GET    /healthz, /readyz (503 while the mediasoup service is not connected), /metrics (Prometheus)
Every request carries `traceparent` (W3C) and `X-Trace-ID` headers.
Errors are MediaApiError with HTTP 400 invalid_request, 403 forbidden_method | foreign_object,
404 not_found, 409 conflict, 502 media_error (the service failed the request), 503 media_unavailable.
The signal methods (a whitelist) are documented in docs/media-signalling.md.

Per-call WebSocket (one per call):
  call-api → controller  text:   PlaybackStart | PlaybackEnd | PlaybackStop
                          binary: PCM s16le mono at PlaybackStart.sample_rate for the open stream
  controller → call-api  text:   PlaybackStarted | PlaybackFinished | BargeInDetected | CallerSpeech
                                 | BotLegReady | DtmfDetected | MediaFailure
                          binary: caller audio, PCM s16le mono 16 kHz, 20 ms (640 bytes) per frame
One playback stream at a time: a PlaybackStart while another stream is open stops that one
(PlaybackFinished stopped=true). A stream opened with PlaybackStart.interruptible=true is stopped by
the controller itself on barge-in (BargeInDetected, then PlaybackFinished stopped=true); a later
PlaybackStop for it is a no-op. BotLegReady is sent once per session, when the client first
consumes the bot producer on one of its transports (buffered until the WebSocket attaches).
A session without its events WebSocket for 10 s is closed.
Invalid text frames are logged and ignored; binary frames over 256 KiB close the WebSocket (1009).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

CALLER_PCM_RATE = 16000
CALLER_FRAME_BYTES = 640  # 20 ms of 16 kHz s16le mono


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


# --- HTTP bodies ------------------------------------------------------------


# The call's audio codec: mediasoup never transcodes, so the bot's producer is created in it at
# session open (from call_start.payload.codec). opus: 48 kHz, PT 100; pcmu / pcma: G.711, 8 kHz,
# PT 0 / 8. The caller's producer may use any router codec (the tap decodes each).
CallCodec = Literal["opus", "pcmu", "pcma"]


class CreateSession(_Model):
    call_id: str
    trace_id: str | None = None
    codec: CallCodec = "opus"


class SessionInfo(_Model):
    call_id: str
    bot_producer_id: str
    router_rtp_capabilities: dict[str, Any] | None = None


class SignalRequest(_Model):
    """A client's mediasoup_request, passed through (method from a whitelist)."""

    method: str
    data: dict[str, Any] = Field(default_factory=dict)


class SignalResponse(_Model):
    data: dict[str, Any] = Field(default_factory=dict)


class MediaApiError(_Model):
    code: str  # not_found | forbidden_method | foreign_object | invalid_request | conflict | media_error
    #            | media_unavailable
    message: str


# --- per-call WebSocket: call-api → controller ------------------------------


class PlaybackStart(_Model):
    """Open a playback stream (its PCM follows as binary frames).

    interruptible: on barge-in during this stream the controller stops it itself, right after
    sending barge_in_detected (playback_finished stopped=true follows at once): the stop no longer
    waits for call-api's playback_stop. False (the default): the controller only reports the
    barge-in and plays on until call-api stops the stream."""

    type: Literal["playback_start"] = "playback_start"
    stream_id: str
    sample_rate: int = Field(ge=8000, le=48000)
    text: str | None = None
    interruptible: bool = False


class PlaybackEnd(_Model):
    """No more PCM for this stream: play what is queued, then report playback_finished."""

    type: Literal["playback_end"] = "playback_end"
    stream_id: str


class PlaybackStop(_Model):
    """Stop at once (barge-in): no further RTP of this stream leaves the controller."""

    type: Literal["playback_stop"] = "playback_stop"
    stream_id: str | None = None


ControlCommand = Annotated[PlaybackStart | PlaybackEnd | PlaybackStop, Field(discriminator="type")]


# --- per-call WebSocket: controller → call-api ------------------------------


class PlaybackStarted(_Model):
    """First RTP packet of the stream was sent; what the client's play_audio needs.

    rtp_port: the client's port this stream's RTP is delivered to, i.e. the port it gave in
    connectPlainTransport for the transport on which it consumes the bot producer (the latest such
    consumer); 0 if it has not connected one yet (or receives over WebRTC). ssrc / payload_type:
    as the RTP arrives there (the client's consumer's, which mediasoup rewrites), else the bot
    producer's."""

    type: Literal["playback_started"] = "playback_started"
    stream_id: str
    rtp_port: int
    codec: str = "opus"
    ssrc: int
    payload_type: int
    clock_rate: int = 48000


class PlaybackFinished(_Model):
    type: Literal["playback_finished"] = "playback_finished"
    stream_id: str
    played_ms: int
    stopped: bool = False


class BargeInDetected(_Model):
    """The spec's barge_in_detected: caller voice while the bot's audio is playing (at most once
    per playback stream; VAD first, the service's audio-level observer as a second source)."""

    type: Literal["barge_in_detected"] = "barge_in_detected"
    onset_ms: float  # monotonic-clock ms (time.monotonic()*1000) of the first voiced frame
    detected_ms: float
    source: Literal["vad", "audio_level"] = "vad"


class CallerSpeech(_Model):
    """VAD transitions of the caller's audio (used for end-of-utterance). at_ms (monotonic ms):
    speaking=true → arrival of the first voiced frame; speaking=false → the last voiced frame's
    (sent after the hangover, also when the caller's RTP simply stops)."""

    type: Literal["caller_speech"] = "caller_speech"
    speaking: bool
    at_ms: float


class BotLegReady(_Model):
    """The gateway now consumes the bot's audio (a consumer of the bot producer exists on one of
    its transports): audio played from now on reaches the phone. Sent once per session, on the
    first such consumer; the Orchestrator waits for it before the greeting."""

    type: Literal["bot_leg_ready"] = "bot_leg_ready"
    transport_id: str
    consumer_id: str


class DtmfDetected(_Model):
    """A DTMF digit the caller pressed: an RFC 4733 telephone-event in the caller's RTP, reported
    once per event (at its first end packet; the end packet's retransmissions are ignored).
    duration_ms: the event's duration as the sender stated it; at_ms: monotonic ms when the
    controller received the end of the event."""

    type: Literal["dtmf"] = "dtmf"
    digit: str = Field(pattern=r"^[0-9*#A-D]$")
    duration_ms: int = Field(ge=0)
    at_ms: float


class MediaFailure(_Model):
    type: Literal["media_failure"] = "media_failure"
    reason: str


MediaEvent = Annotated[
    PlaybackStarted
    | PlaybackFinished
    | BargeInDetected
    | CallerSpeech
    | BotLegReady
    | DtmfDetected
    | MediaFailure,
    Field(discriminator="type"),
]

control_command_adapter: TypeAdapter[ControlCommand] = TypeAdapter(ControlCommand)
media_event_adapter: TypeAdapter[MediaEvent] = TypeAdapter(MediaEvent)
