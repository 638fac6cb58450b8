"""Internal messages between call-api and the media-controller.

HTTP (commands, JSON bodies), base URL = the controller's, e.g. http://127.0.0.1:8100:
  POST   /v1/sessions                     CreateSession        → SessionInfo
  DELETE /v1/sessions/{call_id}                                → 204 (idempotent)
  POST   /v1/sessions/{call_id}/signal    SignalRequest        → SignalResponse | MediaApiError
  GET    /v1/sessions/{call_id}/stats                          → session objects (transports, producers, consumers)
  GET    /v1/sessions/{call_id}/events    WebSocket: the per-call channel below
  GET    /healthz, /readyz, /metrics
Every request carries `traceparent` (W3C) and `X-Trace-ID` headers.

Per-call WebSocket (one per call):
  call-api → controller  text:   PlaybackStart | PlaybackEnd | PlaybackStop
                          binary: PCM s16le mono at PlaybackStart.sample_rate for the open stream
  controller → call-api  text:   PlaybackStarted | PlaybackFinished | BargeInDetected | CallerSpeech
                                 | MediaFailure
                          binary: caller audio, PCM s16le mono 16 kHz, 20 ms (640 bytes) per frame
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


class CreateSession(_Model):
    call_id: str
    trace_id: str | None = None


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
    code: str  # not_found | forbidden_method | foreign_object | invalid_request | media_unavailable
    message: str


# --- per-call WebSocket: call-api → controller ------------------------------


class PlaybackStart(_Model):
    type: Literal["playback_start"] = "playback_start"
    stream_id: str
    sample_rate: int = Field(ge=8000, le=48000)
    text: str | None = None


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
    """First RTP packet of the stream was sent; what the client's play_audio needs."""

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
    """The spec's barge_in_detected: caller voice while the bot's audio is playing."""

    type: Literal["barge_in_detected"] = "barge_in_detected"
    onset_ms: float  # monotonic-clock ms (time.monotonic()*1000) of the first voiced frame
    detected_ms: float
    source: Literal["vad", "audio_level"] = "vad"


class CallerSpeech(_Model):
    """VAD transitions of the caller's audio (used for end-of-utterance)."""

    type: Literal["caller_speech"] = "caller_speech"
    speaking: bool
    at_ms: float


class MediaFailure(_Model):
    type: Literal["media_failure"] = "media_failure"
    reason: str


MediaEvent = Annotated[
    PlaybackStarted | PlaybackFinished | BargeInDetected | CallerSpeech | MediaFailure,
    Field(discriminator="type"),
]

control_command_adapter: TypeAdapter[ControlCommand] = TypeAdapter(ControlCommand)
media_event_adapter: TypeAdapter[MediaEvent] = TypeAdapter(MediaEvent)
