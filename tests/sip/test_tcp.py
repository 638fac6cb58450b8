"""SIP over TCP: SIPp (`-t t1`) calls Kamailio, the edge that relays to the gateway over UDP on
loopback and record-routes, so the dialog's requests flow both ways (docs/sip-gateway.md,
"Transports")."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from voicebot_stack.launch import launch
from voicebot_stack.procs import Proc

from infra.stack.kamailio import kamailio, render
from tests.sip.peer_call import FRAME_MS, json_records, peer_call, wait_packets, wait_record
from tests.sip.support import SipGateway, media_sessions, run_sipp
from tests.support.fullstack import FullStack
from tests.support.nginx import NginxGateway
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.stack

Stack = tuple[FullStack, NginxGateway, SipGateway]
TCP = ["-t", "t1"]
PCMU = {
    "pt": "0",
    "codec": "PCMU/8000",
    "rate": "8000",
    "caller_name": "Ann",
    "customer_id": "tcp",
    "ssrc": "1",
}


@dataclass
class Edge:
    proc: Proc
    tcp_port: int
    relay_port: int  # its UDP side: the source the gateway sees


@pytest.fixture(scope="module")
def edge(sip_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """Kamailio from the stack's own spec (infra/stack/kamailio.py) in front of the package's gateway,
    trusting what the gateway trusts (the local stack's loopback)."""
    _, _, gateway = sip_stack
    base = Path(tmp_path_factory.mktemp("kamailio"))
    tcp_port, relay_port = free_port(), free_port(socket.SOCK_DGRAM)
    config = render(
        base / "kamailio.cfg",
        tcp_port=tcp_port,
        relay_port=relay_port,
        gateway_port=gateway.sip_port,
        allow_networks="127.0.0.1/32",
    )
    proc = launch(kamailio(config, tcp_port, base / "run"), base / "logs", timeout=20)
    yield Edge(proc, tcp_port, relay_port)
    proc.stop()


def test_options_over_tcp_are_answered_by_the_gateway(edge: Edge, tmp_path: Path) -> None:
    run_sipp(tmp_path, "options", edge.tcp_port, extra=TCP).check()


def test_a_tcp_caller_outside_the_allow_list_gets_403_from_the_edge(
    sip_stack: Stack, edge: Edge, tmp_path: Path
) -> None:
    _, _, gateway = sip_stack
    before = gateway.health()["refused"]
    run_sipp(tmp_path, "forbidden", edge.tcp_port, local_ip="127.0.0.2", keys=PCMU, extra=TCP).check()

    def refusals() -> list[dict[str, Any]]:
        return [r for r in json_records(edge.proc) if r.get("message", {}).get("event") == "refused"]

    wait_until(lambda: bool(refusals()), 10, "the edge's log of the refusal")
    assert refusals()[-1]["message"]["source"] == "127.0.0.2"
    assert gateway.health()["refused"] == before  # the gateway never saw it
    assert gateway.health()["calls"] == 0


async def test_a_tcp_call_gets_the_greeting_a_refer_and_ends_with_the_callers_bye(
    sip_stack: Stack, edge: Edge, tmp_path: Path
) -> None:
    stack, _, gateway = sip_stack
    async with peer_call(gateway, tmp_path, "pcmu", customer_id="tcp", via=(edge.tcp_port, "t1")) as call:
        # The INVITE came through the edge: the gateway saw Kamailio's UDP side, not SIPp.
        invite = next(r for r in call.of_call(gateway.records("invite")))
        assert invite["source"] == ["127.0.0.1", edge.relay_port]

        # Kamailio logged the caller's own address under the same trace id.
        def relayed() -> list[dict[str, Any]]:
            return [
                r["message"]
                for r in json_records(edge.proc)
                if r.get("message", {}).get("event") == "relayed"
                and r["logprefix"]["trace_id"] == invite["trace_id"]
            ]

        wait_until(lambda: bool(relayed()), 10, "the edge's log of the relayed INVITE")
        assert relayed()[0]["proto"] == "tcp" and relayed()[0]["source"] == "127.0.0.1"
        assert call.media_at[1] != 0  # the 200 OK's SDP: mediasoup's port, through the edge untouched
        played = await wait_record(
            lambda: call.of_call(json_records(stack.media.controller)),
            lambda r: r.get("message") == "playback finished",
            "the greeting's playback_finished",
        )
        await wait_packets(call.peer, played["played_ms"] // FRAME_MS, "the greeting")
        assert {pt for _, pt in call.peer.arrivals} == {call.payload_type}
    # hang_up: key 0 → the gateway's REFER through the edge to the TCP caller, its 603, then its BYE.
    refer = await wait_record(
        lambda: call.of_call(gateway.records("refer_result")), lambda r: True, "REFER's answer"
    )
    assert refer["status"] == 603
    await wait_record(lambda: call.of_call(gateway.records("caller_bye")), lambda r: True, "the caller's BYE")
    wait_until(lambda: gateway.health()["calls"] == 0, 10, "the gateway to forget the call")
    wait_until(
        lambda: call.call_id not in {c.rpartition("~")[2] for c in media_sessions(stack)},
        10,
        "no media session",
    )


def test_a_tcp_callers_reinvite_and_info_reach_the_gateway_and_the_bots_bye_reaches_the_caller(
    sip_stack: Stack, edge: Edge, tmp_path: Path
) -> None:
    stack, _, gateway = sip_stack
    # Hold and unhold by re-INVITE from the TCP caller, through the edge's Record-Route.
    mark = gateway.mark()
    run_sipp(tmp_path, "hold", edge.tcp_port, keys={**PCMU, "ssrc": "2"}, extra=TCP).check()
    assert [r["hold"] for r in gateway.wait_records("reinvite", since=mark, count=2)] == [True, False]
    # "2" by SIP INFO declines the offer; the bot's BYE goes back down the caller's TCP connection
    # (SIPp's scenario ends only once it got that BYE and answered it).
    mark = gateway.mark()
    run_sipp(
        tmp_path, "info_dtmf", edge.tcp_port, keys={**PCMU, "ssrc": "3", "digit": "2"}, extra=TCP
    ).check()
    assert [r["digit"] for r in gateway.wait_records("dtmf", since=mark)] == ["2"]
    bye = gateway.wait_records("bot_bye", since=mark)[-1]
    assert bye["code"] == "dialog_completed"

    # The BYE went to the port the caller's INVITE came from (its connection), not its Contact's.
    def of_call(event: str) -> list[dict[str, Any]]:
        records = json_records(edge.proc)
        of_bye = [r["message"] for r in records if r["logprefix"].get("call_id") == bye["call_id"]]
        return [m for m in of_bye if m.get("event") == event]

    wait_until(lambda: bool(of_call("to_caller")), 10, "the edge's log of the BYE towards the caller")
    invite = of_call("relayed")[0]
    towards = [m["destination"] for m in of_call("to_caller")]
    assert towards and towards[-1] == f"sip:127.0.0.1:{invite['port']};transport=tcp", towards
    wait_until(lambda: gateway.health()["calls"] == 0, 10, "the gateway to forget the calls")
    wait_until(lambda: media_sessions(stack) == [], 10, "the media sessions to close")


def test_a_tcp_callers_cancel_before_the_answer_reaches_the_gateway(
    sip_stack: Stack, edge: Edge, tmp_path: Path
) -> None:
    stack, _, gateway = sip_stack
    before = len(gateway.records("cancelled"))
    run_sipp(tmp_path, "cancel", edge.tcp_port, keys={**PCMU, "ssrc": "4"}, extra=TCP).check()
    wait_until(lambda: len(gateway.records("cancelled")) > before, 10, "the gateway to see the CANCEL")
    wait_until(lambda: gateway.health()["calls"] == 0, 10, "the gateway to forget the call")
    wait_until(lambda: media_sessions(stack) == [], 10, "the media session to close")
