from __future__ import annotations

import pytest
from sip_gateway.codecs import OPUS, PCMA, PCMU
from sip_gateway.sdp import OfferError, build_answer, negotiate, parse_offer


def offer(formats: str, *attributes: str, c: str = "192.0.2.10") -> str:
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.10",
        "s=-",
        f"c=IN IP4 {c}",
        "t=0 0",
        f"m=audio 30000 RTP/AVP {formats}",
    ]
    return "\r\n".join([*lines, *attributes]) + "\r\n"


def test_offer_order_wins_and_telephone_event_is_kept() -> None:
    parsed = parse_offer(offer("8 0 101", "a=rtpmap:101 telephone-event/8000", "a=ssrc:1234 cname:x"))
    assert (parsed.address, parsed.port, parsed.ssrc) == ("192.0.2.10", 30000, 1234)
    choice = negotiate(parsed)
    assert choice is not None and choice.codec == PCMA and choice.payload_type == 8
    assert choice.dtmf_payload_type == 101


def test_router_capabilities_narrow_the_choice() -> None:
    parsed = parse_offer(offer("0 96 101", "a=rtpmap:96 opus/48000/2", "a=rtpmap:101 telephone-event/8000"))
    choice = negotiate(parsed, {"audio/opus"})
    assert choice is not None and choice.codec == OPUS and choice.payload_type == 96
    assert choice.dtmf_payload_type is None  # no telephone-event at 48 kHz offered, none in the router
    assert negotiate(parsed, {"audio/pcmu", "audio/telephone-event"}) is not None
    assert negotiate(parse_offer(offer("18", "a=rtpmap:18 G729/8000"))) is None


def test_hold_is_recognised() -> None:
    assert parse_offer(offer("0", "a=sendonly")).on_hold
    assert parse_offer(offer("0", c="0.0.0.0")).on_hold
    assert not parse_offer(offer("0")).on_hold


def test_answer_points_at_the_given_address() -> None:
    choice = negotiate(parse_offer(offer("0 101", "a=rtpmap:101 telephone-event/8000")))
    assert choice is not None and choice.codec == PCMU
    answer = build_answer(choice, "203.0.113.5", 41000)
    reparsed = parse_offer(answer)
    assert (reparsed.address, reparsed.port) == ("203.0.113.5", 41000)
    assert [f.payload_type for f in reparsed.formats] == [0] and reparsed.dtmf_payload_types == {8000: 101}


@pytest.mark.parametrize("body", ["not sdp", offer("0").replace("m=audio", "m=video")])
def test_unusable_offers_are_refused(body: str) -> None:
    with pytest.raises(OfferError):
        parse_offer(body)
