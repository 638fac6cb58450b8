"""The internal channels' schema: what the media-controller sends passes it, what the Node service
must refuse fails it, and session.open's version check."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from voicebot_protocol.media_service import (
    INTERNAL_PROTOCOL_VERSION,
    ServiceRequest,
    protocol_version_problem,
)
from voicebot_protocol.media_service_methods import SERVICE_METHODS

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schema"
INTERNAL_DOC = Path(__file__).resolve().parents[3] / "docs" / "internal-protocol.md"


def request_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / "internal.media-service.request.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=None)


def request(method: str, **params: Any) -> dict[str, Any]:
    return json.loads(ServiceRequest(id=1, method=method, params=params).model_dump_json(exclude_none=True))


def test_every_file_carries_the_internal_version() -> None:
    files = sorted(SCHEMA_DIR.glob("internal.*.schema.json"))
    assert len(files) >= 10
    for path in files:
        assert json.loads(path.read_text())["x-protocol-version"] == INTERNAL_PROTOCOL_VERSION, path.name


@pytest.mark.parametrize(
    "sent",
    [
        request("session.open", call_id="c", trace_id="t"),
        request("session.open", call_id="c"),
        request("transport.createPlain", call_id="c", comedia=False, rtcp_mux=True, listen_ip="127.0.0.1"),
        request("transport.connectPlain", call_id="c", transport_id="t", ip="::1", port=5004),
        request("produce", call_id="c", transport_id="t", kind="audio", rtp_parameters={"codecs": []}),
        request("consume", call_id="c", transport_id="t", producer_id="p", paused=True),
        request("close", call_id="c", kind="observer", id="o"),
        request("audioLevel.observe", call_id="c", producer_id="p", threshold=-50, interval=500),
        request("session.setBotSpeaking", call_id="c", speaking=True),
        request("stats"),
        request("not.a.method", anything=1),  # answered unknown_method by the table, not by the schema
    ],
)
def test_what_the_controller_sends_is_valid(sent: dict[str, Any]) -> None:
    request_validator().validate(sent)


@pytest.mark.parametrize(
    "sent",
    [
        {"method": "stats"},  # no id
        request("session.open"),  # no call_id
        request("session.open", call_id=""),
        request("transport.createPlain", call_id="c"),  # comedia is required
        {
            "id": 1,
            "method": "transport.createPlain",
            "params": {"call_id": "c", "comedia": True, "listen_ip": None},
        },
        request("transport.connectPlain", call_id="c", transport_id="t", ip="::1", port=0),
        request("transport.connectPlain", call_id="c", transport_id="t", ip="::1", port="5004"),
        request("produce", call_id="c", transport_id="t", kind="video", rtp_parameters={}),
        request("close", call_id="c", kind="router", id="r"),
        request("audioLevel.observe", call_id="c", producer_id="p", interval=100),
        request("audioLevel.observe", call_id="c", producer_id="p", threshold=3),
        request("session.setBotSpeaking", call_id="c", speaking="yes"),
    ],
)
def test_what_the_service_refuses_is_invalid(sent: dict[str, Any]) -> None:
    assert list(request_validator().iter_errors(sent)), sent


def test_every_method_is_documented() -> None:
    text = INTERNAL_DOC.read_text(encoding="utf-8")
    assert [method for method in SERVICE_METHODS if f"`{method}`" not in text] == []


OPENED = {"router_id": "r", "rtp_capabilities": {"codecs": []}, "worker_pid": 7}


def test_session_open_answer_of_this_version_is_accepted() -> None:
    assert protocol_version_problem({**OPENED, "protocol_version": INTERNAL_PROTOCOL_VERSION}) is None


def test_session_open_answer_of_another_version_is_refused() -> None:
    problem = protocol_version_problem({**OPENED, "protocol_version": INTERNAL_PROTOCOL_VERSION + 1})
    assert problem is not None
    assert f"version {INTERNAL_PROTOCOL_VERSION + 1}" in problem


def test_session_open_answer_without_a_version_is_refused() -> None:
    assert (
        protocol_version_problem(OPENED) == "malformed session.open answer: protocol_version: Field required"
    )
