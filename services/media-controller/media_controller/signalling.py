"""The client-callable signalling methods (mediasoup_request passthrough), one row each: the table
is the whitelist. A row holds the strict parameter model, the mediasoup service method it maps to,
the ids it names (checked against the call's ledger) and its bookkeeping in the ledger. Adding a
method is adding a row. Documented in docs/media-signalling.md."""

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from voicebot_protocol.validation import describe_validation_error

from media_controller import errors
from media_controller.call_codecs import carry_telephone_event
from media_controller.ledger import Change, ClientConsumer, ClientLedger, NamedKind, TransportKind
from media_controller.policy import MediaPolicy, PolicyRefusal

DEFAULT_PAYLOAD_TYPE = 100  # Opus, as the router's codecs prefer it


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
    # set by the controller: the codec its telephone-event is declared as (call_codecs.py)
    _dtmf_carrier: str | None = PrivateAttr(default=None)


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


Record = Callable[[ClientLedger, Any, dict[str, Any]], list[Change]]
Guard = Callable[[ClientLedger, Any, MediaPolicy], None]  # raises PolicyRefusal
Named = tuple[tuple[NamedKind, str], ...]  # (what kind of object, the parameter naming it)


def _nothing(ledger: ClientLedger, params: Any, result: dict[str, Any]) -> list[Change]:
    return []


def _allowed(ledger: ClientLedger, params: Any, policy: MediaPolicy) -> None:
    return None


def _new_transport(ledger: ClientLedger, params: Any, policy: MediaPolicy) -> None:
    policy.limits.check("transport", len(ledger.transports))
    if isinstance(params, CreatePlainTransport):
        policy.check_comedia(params.comedia)


def _destination(ledger: ClientLedger, params: ConnectPlainTransport, policy: MediaPolicy) -> None:
    policy.destinations.check(params.ip, params.port)


def _new_producer(ledger: ClientLedger, params: Any, policy: MediaPolicy) -> None:
    policy.limits.check("producer", len(ledger.producers))


def _new_consumer(ledger: ClientLedger, params: Consume, policy: MediaPolicy) -> None:
    if params.producer_id in ledger.producers:
        raise PolicyRefusal("limit_exceeded", "a call may not consume its own caller producer")
    policy.limits.check("consumer", len(ledger.consumers))


@dataclass(frozen=True)
class ClientMethod:
    """One row of the table: the service method, the parameters, the ids the call names (checked
    against the call's ledger in this order), the policy it must pass (media destinations,
    per-call caps: refusals `forbidden_destination`, `limit_exceeded`) and the bookkeeping of a
    successful answer."""

    service_method: str
    params: type[_Params]
    names: Named = ()
    record: Record = _nothing
    guard: Guard = _allowed


def _transport_created(kind: TransportKind) -> Record:
    return lambda ledger, params, result: ledger.add_transport(result["transport_id"], kind)


def _consumer_of(params: Consume, result: dict[str, Any]) -> ClientConsumer:
    rtp = result.get("rtp_parameters") or {}
    encodings = rtp.get("encodings") or [{}]
    codecs = rtp.get("codecs") or [{}]
    return ClientConsumer(
        params.transport_id,
        params.producer_id,
        int(encodings[0].get("ssrc", 0)),
        int(codecs[0].get("payloadType", DEFAULT_PAYLOAD_TYPE)),
    )


_TRANSPORT: Named = (("transport", "transport_id"),)
_PRODUCER: Named = (("producer", "producer_id"),)
_CONSUMER: Named = (("consumer", "consumer_id"),)

CLIENT_METHODS: dict[str, ClientMethod] = {
    "getRouterRtpCapabilities": ClientMethod("router.getRtpCapabilities", NoParams),
    "createPlainTransport": ClientMethod(
        "transport.createPlain",
        CreatePlainTransport,
        record=_transport_created("plain"),
        guard=_new_transport,
    ),
    "connectPlainTransport": ClientMethod(
        "transport.connectPlain",
        ConnectPlainTransport,
        _TRANSPORT,
        lambda ledger, params, result: ledger.connect_transport(params.transport_id, params.port),
        guard=_destination,
    ),
    "createWebRtcTransport": ClientMethod(
        "transport.createWebRtc", NoParams, record=_transport_created("webrtc"), guard=_new_transport
    ),
    "connectWebRtcTransport": ClientMethod("transport.connectWebRtc", ConnectWebRtcTransport, _TRANSPORT),
    "produce": ClientMethod(
        "produce",
        Produce,
        _TRANSPORT,
        lambda ledger, params, result: ledger.add_producer(
            result["producer_id"], params.transport_id, params._dtmf_carrier
        ),
        guard=_new_producer,
    ),
    "consume": ClientMethod(
        "consume",
        Consume,
        (("transport", "transport_id"), ("consumable", "producer_id")),
        lambda ledger, params, result: ledger.add_consumer(
            result["consumer_id"], _consumer_of(params, result)
        ),
        guard=_new_consumer,
    ),
    "pauseConsumer": ClientMethod("consumer.pause", ConsumerRef, _CONSUMER),
    "resumeConsumer": ClientMethod("consumer.resume", ConsumerRef, _CONSUMER),
    "pauseProducer": ClientMethod("producer.pause", ProducerRef, _PRODUCER),
    "resumeProducer": ClientMethod("producer.resume", ProducerRef, _PRODUCER),
    "closeTransport": ClientMethod(
        "close",
        TransportRef,
        _TRANSPORT,
        lambda ledger, params, result: ledger.remove_transport(params.transport_id),
    ),
    "closeProducer": ClientMethod(
        "close",
        ProducerRef,
        _PRODUCER,
        lambda ledger, params, result: ledger.remove_producer(params.producer_id),
    ),
    "closeConsumer": ClientMethod(
        "close",
        ConsumerRef,
        _CONSUMER,
        lambda ledger, params, result: ledger.remove_consumer(params.consumer_id),
    ),
}


def prepare_call(
    method_name: str,
    data: dict[str, Any],
    ledger: ClientLedger,
    owner_of: Callable[[str], str | None],
    call_id: str,
    policy: MediaPolicy,
) -> tuple[ClientMethod, _Params]:
    """The row and the checked parameters of a client's call; raises forbidden_method,
    invalid_request, foreign_object, not_found, forbidden_destination or limit_exceeded."""
    method = CLIENT_METHODS.get(method_name)
    if method is None:
        raise errors.forbidden_method(
            f"method {method_name!r} is not allowed (allowed: {', '.join(CLIENT_METHODS)})"
        )
    try:
        params = parse_params(method, data, ledger)
    except ValueError as exc:
        raise errors.invalid_request(f"{method_name}: {exc}") from None
    check_names(method, params, ledger, owner_of, call_id)
    try:
        method.guard(ledger, params, policy)
    except PolicyRefusal as refusal:
        raise errors.MediaError(refusal.code, f"{method_name}: {refusal}", 403) from None
    return method, params


def parse_params(method: ClientMethod, data: dict[str, Any], ledger: ClientLedger) -> _Params:
    """The method's parameters, with `"bot"` resolved to the bot producer's id. Raises ValueError
    with a readable message on bad parameters."""
    try:
        params = method.params.model_validate(data)
    except ValidationError as exc:  # deeper parts of the location name union branches
        raise ValueError(describe_validation_error(exc, whole="data", depth=1)) from None
    if isinstance(params, Consume):
        params = params.model_copy(update={"producer_id": ledger.resolve_producer(params.producer_id)})
    elif isinstance(params, Produce):
        rtp_parameters, carrier = carry_telephone_event(params.rtp_parameters)
        params = params.model_copy(update={"rtp_parameters": rtp_parameters})
        params._dtmf_carrier = carrier
    return params


def check_names(
    method: ClientMethod,
    params: _Params,
    ledger: ClientLedger,
    owner_of: Callable[[str], str | None],
    call_id: str,
) -> None:
    """Every id the call names must be its client's (raises foreign_object / not_found)."""
    for kind, parameter in method.names:
        ledger.check(kind, str(getattr(params, parameter)), owner_of, call_id)


def service_params(method: ClientMethod, params: _Params, call_id: str) -> dict[str, Any]:
    """The mediasoup service request's params for a client call."""
    if method.service_method == "close" or isinstance(params, ConsumerRef | ProducerRef):
        assert method.names
        kind, parameter = method.names[0]
        object_id = str(getattr(params, parameter))
        if method.service_method == "close":
            return {"call_id": call_id, "kind": kind, "id": object_id}
        return {"call_id": call_id, "id": object_id}
    body = params.model_dump(mode="json", exclude_none=True)
    return {"call_id": call_id, **body}
