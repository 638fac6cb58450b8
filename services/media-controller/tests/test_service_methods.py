"""Every signalling method maps onto a mediasoup-service method whose typed params (the schema the
Node service validates against) accept what the controller sends. In-process: no stack."""

import pytest
from media_controller.signalling import CLIENT_METHODS, service_params
from pydantic import BaseModel
from voicebot_protocol.media_service_methods import SERVICE_METHODS

# One valid `data` of a mediasoup_request per client method (docs/media-signalling.md).
EXAMPLES: dict[str, dict[str, object]] = {
    "getRouterRtpCapabilities": {},
    "createPlainTransport": {"comedia": True},
    "connectPlainTransport": {"transport_id": "t1", "ip": "127.0.0.1", "port": 40000},
    "createWebRtcTransport": {},
    "connectWebRtcTransport": {"transport_id": "t1", "dtls_parameters": {"role": "client"}},
    "produce": {"transport_id": "t1", "rtp_parameters": {"codecs": []}},
    "consume": {"transport_id": "t1", "producer_id": "bot", "paused": False},
    "pauseConsumer": {"consumer_id": "c1"},
    "resumeConsumer": {"consumer_id": "c1"},
    "pauseProducer": {"producer_id": "p1"},
    "resumeProducer": {"producer_id": "p1"},
    "closeTransport": {"transport_id": "t1"},
    "closeProducer": {"producer_id": "p1"},
    "closeConsumer": {"consumer_id": "c1"},
}


def test_every_client_method_has_an_example() -> None:
    assert EXAMPLES.keys() == CLIENT_METHODS.keys()


@pytest.mark.parametrize("name", sorted(CLIENT_METHODS))
def test_what_signalling_sends_is_valid_for_the_service(name: str) -> None:
    method = CLIENT_METHODS[name]
    assert method.service_method in SERVICE_METHODS
    params = method.params.model_validate(EXAMPLES[name])
    sent = service_params(method, params, "call-1")
    model: type[BaseModel] = SERVICE_METHODS[method.service_method]
    model.model_validate(sent)  # raises on a field the service would refuse
    assert set(sent) <= set(model.model_fields), "a field the service would silently ignore"
