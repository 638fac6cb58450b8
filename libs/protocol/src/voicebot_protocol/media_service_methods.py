"""The mediasoup service's methods: each one's params and answer, typed once.

The Node service validates every request against the JSON Schema exported from these models
(docs/schema/internal.media-service.request.schema.json); the media-controller builds its
requests with the same field names. An optional field is absent, never null (the schema export
drops the null branch, and requests are sent with `exclude_none`). mediasoup's own objects
(rtp_parameters, rtp_capabilities, dtls_parameters, ...) pass through untouched: they are
objects here, checked by mediasoup itself."""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

NonEmpty = Annotated[StrictStr, Field(min_length=1)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
MediasoupObject = dict[str, Any]


class _Params(BaseModel):
    # Unknown params are ignored, as the service always did (a newer controller may add some).
    model_config = ConfigDict(frozen=True)


class CallParams(_Params):
    call_id: NonEmpty


class SessionOpenParams(CallParams):
    trace_id: NonEmpty | None = None


class CreatePlainParams(CallParams):
    comedia: StrictBool
    listen_ip: IPvAnyAddress | None = None
    announced_address: NonEmpty | None = None
    rtcp_mux: StrictBool | None = None  # absent: true


class ConnectPlainParams(CallParams):
    transport_id: NonEmpty
    ip: IPvAnyAddress
    port: Port
    rtcp_port: Port | None = None


class CreateWebRtcParams(CallParams):
    listen_ip: IPvAnyAddress | None = None
    announced_address: NonEmpty | None = None


class ConnectWebRtcParams(CallParams):
    transport_id: NonEmpty
    dtls_parameters: MediasoupObject


class ProduceParams(CallParams):
    transport_id: NonEmpty
    kind: Literal["audio"]
    rtp_parameters: MediasoupObject
    app_data: MediasoupObject | None = None


class ConsumeParams(CallParams):
    transport_id: NonEmpty
    producer_id: NonEmpty
    rtp_capabilities: MediasoupObject | None = None  # absent: the router's own
    paused: StrictBool | None = None  # absent: false


class ObjectParams(CallParams):
    """producer.pause / producer.resume / consumer.pause / consumer.resume."""

    id: NonEmpty


class CloseParams(CallParams):
    kind: Literal["transport", "producer", "consumer", "observer"]
    id: NonEmpty


class ObserveAudioLevelParams(CallParams):
    producer_id: NonEmpty
    threshold: Annotated[StrictFloat, Field(ge=-127, le=0)] | None = None  # dBov, absent: -50
    interval: Annotated[StrictInt, Field(ge=250, le=60000)] | None = None  # ms, absent: 500


class SetBotSpeakingParams(CallParams):
    speaking: StrictBool


class StatsParams(_Params):
    call_id: NonEmpty | None = None  # absent: the whole service's figures


SERVICE_METHODS: dict[str, type[_Params]] = {
    "session.open": SessionOpenParams,
    "session.close": CallParams,
    "router.getRtpCapabilities": CallParams,
    "transport.createPlain": CreatePlainParams,
    "transport.connectPlain": ConnectPlainParams,
    "transport.createWebRtc": CreateWebRtcParams,
    "transport.connectWebRtc": ConnectWebRtcParams,
    "produce": ProduceParams,
    "consume": ConsumeParams,
    "producer.pause": ObjectParams,
    "producer.resume": ObjectParams,
    "consumer.pause": ObjectParams,
    "consumer.resume": ObjectParams,
    "close": CloseParams,
    "audioLevel.observe": ObserveAudioLevelParams,
    "session.setBotSpeaking": SetBotSpeakingParams,
    "stats": StatsParams,
}
"""method → its params model: the whole method table (docs/internal-protocol.md)."""


# --- answers (`data` of an ok response) ---------------------------------------------------------


class _Answer(BaseModel):
    # The service may add fields; readers take what they know.
    model_config = ConfigDict(frozen=True)


class SessionOpened(_Answer):
    router_id: str
    rtp_capabilities: MediasoupObject
    worker_pid: int
    protocol_version: int


class PlainTransportCreated(_Answer):
    transport_id: str
    ip: str
    port: int
    rtcp_port: int | None = None  # only with rtcp_mux false


class WebRtcTransportCreated(_Answer):
    transport_id: str
    ice_parameters: MediasoupObject
    ice_candidates: list[MediasoupObject]
    dtls_parameters: MediasoupObject


class Produced(_Answer):
    producer_id: str


class Consumed(_Answer):
    consumer_id: str
    producer_id: str
    kind: str
    rtp_parameters: MediasoupObject


class ObserverCreated(_Answer):
    observer_id: str


class RtpCapabilities(_Answer):
    rtp_capabilities: MediasoupObject
