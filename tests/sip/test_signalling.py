"""SIP signalling with SIPp as the trunk, against the whole stack (docs/sip-gateway.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.sip.support import SipGateway, media_sessions, run_sipp, start_sip_gateway
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway
from tests.support.procs import wait_until

pytestmark = pytest.mark.stack

Stack = tuple[FullStack, NginxGateway, SipGateway]
OPUS = {"pt": "100", "codec": "opus/48000/2", "rate": "48000"}
PCMU = {"pt": "0", "codec": "PCMU/8000", "rate": "8000"}
G729 = {"pt": "18", "codec": "G729/8000", "rate": "8000"}


def caller(**keys: str) -> dict[str, str]:
    return {"caller_name": "Ann", "customer_id": "c-42", "ssrc": "287454020", **keys}


def nothing_left(stack: FullStack, gateway: SipGateway) -> None:
    wait_until(lambda: gateway.health()["calls"] == 0, 10, "the gateway to forget the call")
    wait_until(lambda: media_sessions(stack) == [], 10, "the media session to close")
    client = redis.Redis.from_url(stack.redis.url)
    wait_until(lambda: not client.keys("call-api:active-call:*"), 10, "the call's Redis key to go")


def test_options_is_answered(sip_stack: Stack, tmp_path: Path) -> None:
    _, _, gateway = sip_stack
    run_sipp(tmp_path, "options", gateway.sip_port).check()


def test_invite_is_answered_with_mediasoup_address_and_the_caller_bye_leaves_nothing(
    sip_stack: Stack, tmp_path: Path
) -> None:
    stack, nginx, gateway = sip_stack
    mark = gateway.mark()
    result = run_sipp(tmp_path, "caller_bye", gateway.sip_port, keys=caller(**OPUS)).check()
    answered = gateway.wait_records("answered", since=mark)[-1]
    # The 200 OK's SDP names mediasoup's PlainTransport: the port the media plane opened.
    port = int(result.messages.split("m=audio ")[-1].split()[0])
    assert port != 0
    assert answered["codec"] == "opus"
    invite = gateway.wait_records("invite", since=mark)[-1]
    # One trace id on both sides: the gateway's log and nginx's access line for the WSS.
    record = nginx.wait_access_record(invite["trace_id"])
    assert record["trace_id"] == invite["trace_id"]
    nothing_left(stack, gateway)


def test_cancel_before_answer_leaves_nothing(sip_stack: Stack, tmp_path: Path) -> None:
    stack, _, gateway = sip_stack
    run_sipp(tmp_path, "cancel", gateway.sip_port, keys=caller(**OPUS)).check()
    wait_until(lambda: bool(gateway.records("cancelled")), 10, "the gateway to see the CANCEL")
    nothing_left(stack, gateway)


def test_no_common_codec_gets_488(sip_stack: Stack, tmp_path: Path) -> None:
    stack, _, gateway = sip_stack
    run_sipp(tmp_path, "no_codec", gateway.sip_port, keys=caller(**G729)).check()
    nothing_left(stack, gateway)


def test_outside_the_allow_list_gets_403(sip_stack: Stack, tmp_path: Path) -> None:
    _, _, gateway = sip_stack
    before = gateway.health()["refused"]
    run_sipp(tmp_path, "forbidden", gateway.sip_port, local_ip="127.0.0.2", keys=caller(**OPUS)).check()
    assert gateway.health()["refused"] > before
    assert gateway.health()["calls"] == 0


@pytest.fixture
def digest_gateway(sip_stack: Stack, tmp_path: Path) -> Iterator[SipGateway]:
    _, nginx, _ = sip_stack
    gateway = start_sip_gateway(
        tmp_path / "logs",
        nginx,
        nginx.certs,
        SIP_GATEWAY_DIGEST_USERNAME="trunk",
        SIP_GATEWAY_DIGEST_PASSWORD="s3cret",
    )
    yield gateway
    gateway.stop()


def test_digest_authentication(digest_gateway: SipGateway, tmp_path: Path) -> None:
    # The right credentials get past 401/403 to the codec check (G.729 only: 488) ...
    run_sipp(tmp_path, "digest_ok", digest_gateway.sip_port, keys=caller(**G729)).check()
    # ... the wrong ones get 403 (no credentials at all: the 401 challenge both scenarios begin with).
    run_sipp(tmp_path, "digest_bad", digest_gateway.sip_port, keys=caller(**G729)).check()


def test_hold_and_unhold_by_reinvite(sip_stack: Stack, tmp_path: Path) -> None:
    stack, _, gateway = sip_stack
    mark = gateway.mark()
    run_sipp(tmp_path, "hold", gateway.sip_port, keys=caller(**OPUS)).check()
    assert [r["hold"] for r in gateway.wait_records("reinvite", since=mark, count=2)] == [True, False]
    nothing_left(stack, gateway)


@pytest.fixture
def short_call_gateway(sip_stack: Stack, tmp_path: Path) -> Iterator[SipGateway]:
    _, nginx, _ = sip_stack
    gateway = start_sip_gateway(tmp_path / "logs", nginx, nginx.certs, SIP_GATEWAY_MAX_CALL_SECONDS="2")
    yield gateway
    gateway.stop()


def test_a_call_past_its_limit_is_ended_with_bye(
    sip_stack: Stack, short_call_gateway: SipGateway, tmp_path: Path
) -> None:
    stack, _, _ = sip_stack
    # The caller never hangs up (bot_bye waits for a BYE): the gateway's limit ends the call.
    run_sipp(tmp_path, "bot_bye", short_call_gateway.sip_port, keys=caller(**OPUS)).check()
    short_call_gateway.wait_records("caller_bye", since=0)  # sippy's credit timer: BYE + call_terminated
    nothing_left(stack, short_call_gateway)


def test_a_sip_info_digit_drives_the_dialog_and_the_bot_hangs_up(sip_stack: Stack, tmp_path: Path) -> None:
    stack, _, gateway = sip_stack
    # The shipped appointment scenario: "2" declines the offer; the bot says goodbye and sends BYE.
    mark = gateway.mark()
    run_sipp(tmp_path, "info_dtmf", gateway.sip_port, keys=caller(digit="2", **PCMU)).check()
    assert [r["digit"] for r in gateway.wait_records("dtmf", since=mark)] == ["2"]
    ended = gateway.wait_records("bot_bye", since=mark)[-1]
    assert ended["code"] == "dialog_completed"
    said = [
        r["text"]
        for r in gateway.records("transcript")
        if r["call_id"] == ended["call_id"] and r["role"] == "bot"
    ]
    assert any("No problem" in text for text in said), said
    nothing_left(stack, gateway)
