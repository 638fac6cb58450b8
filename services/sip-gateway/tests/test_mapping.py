from __future__ import annotations

import pytest
from sip_gateway.access import address_allowed
from sip_gateway.dtmf_info import parse
from sip_gateway.identity import protocol_call_id, var_name
from sip_gateway.mapping import sip_status_for_failure
from sip_gateway.settings import Settings


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("tts_unavailable", 503),
        ("media_unavailable", 503),
        ("server_draining", 503),
        ("duplicate_call", 486),
        ("orchestrator_error", 500),
        (None, 500),
    ],
)
def test_call_failed_maps_to_a_final_response(code: str | None, status: int) -> None:
    assert sip_status_for_failure(code)[0] == status


def test_sip_info_dtmf_bodies() -> None:
    assert parse("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n") == ("5", 160)
    assert parse("application/dtmf-relay", "Signal=#\n") == ("#", None)
    assert parse("application/dtmf", "9") == ("9", None)
    assert parse("application/dtmf-relay", "Signal=x") is None
    assert parse("text/plain", "Signal=5") is None


def test_allow_list() -> None:
    networks = Settings(allow_networks="10.0.0.0/8, 127.0.0.1/32").networks()
    assert address_allowed("10.1.2.3", networks) and address_allowed("127.0.0.1", networks)
    assert not address_allowed("127.0.0.2", networks) and not address_allowed("bogus", networks)


def test_protocol_names() -> None:
    assert protocol_call_id("1-123@127.0.0.1") == "1-123@127.0.0.1"
    odd = protocol_call_id("a b/c{d}")
    assert odd.startswith("sip-") and odd == protocol_call_id("a b/c{d}")
    assert var_name("X-Customer-Id") == "customer_id"
