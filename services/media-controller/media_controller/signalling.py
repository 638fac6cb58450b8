"""The client-callable signalling methods (mediasoup_request passthrough): a whitelist, each with
a strict parameter model and the mediasoup service method it maps to. Documented in
docs/media-signalling.md."""

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Params):
    pass


class CreatePlainTransport(_Params):
    comedia: StrictBool = False
    rtcp_mux: StrictBool = True


class ConnectPlainTransport(_Params):
    transport_id: StrictStr
    ip: IPv4Address | IPv6Address
    port: StrictInt = Field(ge=1, le=65535)


class ConnectWebRtcTransport(_Params):
    transport_id: StrictStr
    dtls_parameters: dict[str, Any]


class Produce(_Params):
    transport_id: StrictStr
    kind: Literal["audio"] = "audio"
    rtp_parameters: dict[str, Any]
    app_data: dict[str, Any] | None = None


class Consume(_Params):
    transport_id: StrictStr
    producer_id: StrictStr  # "bot": the session's bot audio producer
    rtp_capabilities: dict[str, Any] | None = None
    paused: StrictBool | None = None


class ConsumerRef(_Params):
    consumer_id: StrictStr


class ProducerRef(_Params):
    producer_id: StrictStr


class TransportRef(_Params):
    transport_id: StrictStr


ObjectKind = Literal["transport", "producer", "consumer"]


@dataclass(frozen=True)
class ClientMethod:
    service_method: str
    params: type[_Params]
    target: ObjectKind | None = None  # the kind of object the call names by id (for ownership checks)


CLIENT_METHODS: dict[str, ClientMethod] = {
    "getRouterRtpCapabilities": ClientMethod("router.getRtpCapabilities", NoParams),
    "createPlainTransport": ClientMethod("transport.createPlain", CreatePlainTransport),
    "connectPlainTransport": ClientMethod("transport.connectPlain", ConnectPlainTransport, "transport"),
    "createWebRtcTransport": ClientMethod("transport.createWebRtc", NoParams),
    "connectWebRtcTransport": ClientMethod("transport.connectWebRtc", ConnectWebRtcTransport, "transport"),
    "produce": ClientMethod("produce", Produce, "transport"),
    "consume": ClientMethod("consume", Consume, "transport"),
    "pauseConsumer": ClientMethod("consumer.pause", ConsumerRef, "consumer"),
    "resumeConsumer": ClientMethod("consumer.resume", ConsumerRef, "consumer"),
    "pauseProducer": ClientMethod("producer.pause", ProducerRef, "producer"),
    "resumeProducer": ClientMethod("producer.resume", ProducerRef, "producer"),
    "closeTransport": ClientMethod("close", TransportRef, "transport"),
    "closeProducer": ClientMethod("close", ProducerRef, "producer"),
    "closeConsumer": ClientMethod("close", ConsumerRef, "consumer"),
}


def parse_params(method: ClientMethod, data: dict[str, Any]) -> _Params:
    """Raises ValueError with a readable message on bad parameters."""
    try:
        return method.params.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = str(first["loc"][0]) if first["loc"] else "data"  # deeper parts name union branches
        raise ValueError(f"{where}: {first['msg']}") from None


def target_id(params: _Params, kind: ObjectKind) -> str:
    return str(getattr(params, f"{kind}_id"))


def service_params(method: ClientMethod, params: _Params, call_id: str) -> dict[str, Any]:
    """The mediasoup service request's params for a client call."""
    if method.service_method == "close":
        assert method.target is not None
        return {"call_id": call_id, "kind": method.target, "id": target_id(params, method.target)}
    if isinstance(params, ConsumerRef | ProducerRef):
        assert method.target is not None
        return {"call_id": call_id, "id": target_id(params, method.target)}
    body = params.model_dump(mode="json", exclude_none=True)
    return {"call_id": call_id, **body}
