"""RFC 4733 telephone-events: the payload parser and the detector that reports each key once."""

import struct

from media_controller.call_codecs import carry_telephone_event, media_codec_of, payload_type_of
from media_controller.dtmf import DigitPressed, DtmfDetector, parse_telephone_event
from media_controller.ledger import ClientLedger
from media_controller.signalling import CLIENT_METHODS, parse_params, service_params


def event(code: int, duration: int, *, end: bool = False, volume: int = 10) -> bytes:
    return struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)


def press(detector: DtmfDetector, code: int, timestamp: int, *, end_repeats: int = 3) -> list[DigitPressed]:
    """A key held for 100 ms as a phone sends it: growing durations, then the end packet 3x."""
    out: list[DigitPressed] = []
    for duration in (160, 320, 480, 640):
        out += detector.feed(timestamp, event(code, duration))
    for _ in range(end_repeats):
        out += detector.feed(timestamp, event(code, 800, end=True))
    return out


def test_the_payload_is_parsed() -> None:
    parsed = parse_telephone_event(bytes([11, 0x80 | 7, 0x03, 0x20]))
    assert parsed is not None
    assert (parsed.event, parsed.end, parsed.volume, parsed.duration) == (11, True, 7, 800)
    assert parse_telephone_event(b"\x01\x02") is None


def test_one_key_is_reported_once_despite_the_repeated_end_packet() -> None:
    detector = DtmfDetector()
    assert press(detector, 1, 16000) == [DigitPressed("1", 100)]
    # a late repeat of the end packet, after other audio: still nothing
    assert detector.audio_resumed() == []
    assert detector.feed(16000, event(1, 800, end=True)) == []


def test_the_same_key_twice_is_two_presses() -> None:
    detector = DtmfDetector()
    assert press(detector, 5, 1000) + press(detector, 5, 9000) == [DigitPressed("5", 100)] * 2


def test_star_hash_and_letters_map_and_other_events_are_ignored() -> None:
    detector = DtmfDetector()
    got = [
        d.digit for ts, code in ((1, 10), (2, 11), (3, 12), (4, 15)) for d in press(detector, code, ts * 5000)
    ]
    assert got == ["*", "#", "A", "D"]
    assert press(detector, 16, 99000) == []  # flash: not a digit


def test_a_press_whose_end_packets_were_all_lost_is_reported_when_the_next_one_starts() -> None:
    detector = DtmfDetector()
    assert press(detector, 3, 1000, end_repeats=0) == []
    assert press(detector, 4, 9000) == [DigitPressed("3", 80), DigitPressed("4", 100)]


def test_a_press_whose_end_packets_were_all_lost_is_reported_when_audio_resumes() -> None:
    detector = DtmfDetector()
    assert press(detector, 9, 1000, end_repeats=0) == []
    assert detector.audio_resumed() == [DigitPressed("9", 80)]
    assert detector.audio_resumed() == []
    assert detector.feed(1000, event(9, 800, end=True)) == []  # its end, arriving late


def test_the_duration_follows_the_clock_rate() -> None:
    detector = DtmfDetector(clock_rate=48000)
    assert detector.feed(7, event(0, 4800, end=True)) == [DigitPressed("0", 100)]


def test_telephone_event_rides_a_g711_codec_the_call_does_not_use() -> None:
    offered = {
        "codecs": [
            {"mimeType": "audio/PCMU", "payloadType": 0, "clockRate": 8000},
            {"mimeType": "audio/telephone-event", "payloadType": 101, "clockRate": 8000},
        ],
        "encodings": [{"ssrc": 1}],
    }
    carried, carrier = carry_telephone_event(offered)
    assert carrier == "audio/PCMA"
    assert carried["codecs"][1] == {"mimeType": "audio/PCMA", "payloadType": 101, "clockRate": 8000}
    assert carried["encodings"] == offered["encodings"] and offered["codecs"][1]["mimeType"].endswith("event")
    # what the tap's consumer gets: the media codec first, the carrier under the router's PT
    consumed = {
        "codecs": [{"mimeType": "audio/PCMU", "payloadType": 0}, {"mimeType": "audio/PCMA", "payloadType": 8}]
    }
    spec_and_pt = media_codec_of(consumed, carrier)
    assert spec_and_pt is not None and spec_and_pt[0].name == "pcmu" and spec_and_pt[1] == 0
    assert payload_type_of(consumed, carrier) == 8
    pcma_call, pcma_carrier = carry_telephone_event(
        {"codecs": [{"mimeType": "audio/PCMA", "payloadType": 8, "clockRate": 8000}, offered["codecs"][1]]}
    )
    assert pcma_carrier == "audio/PCMU" and pcma_call["codecs"][1]["mimeType"] == "audio/PCMU"
    assert carry_telephone_event({"codecs": offered["codecs"][:1]}) == (
        {"codecs": offered["codecs"][:1]},
        None,
    )


def test_the_callers_produce_is_rewritten_and_the_carrier_remembered() -> None:
    ledger = ClientLedger(bot_producer_id="bot-1")
    ledger.add_transport("t1", "plain")
    method = CLIENT_METHODS["produce"]
    offered = {
        "codecs": [
            {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2},
            {"mimeType": "audio/telephone-event", "payloadType": 110, "clockRate": 8000},
        ],
        "encodings": [{"ssrc": 7}],
    }
    params = parse_params(method, {"transport_id": "t1", "rtp_parameters": offered}, ledger)
    sent = service_params(method, params, "call-1")
    assert sent["rtp_parameters"]["codecs"][1] == {
        "mimeType": "audio/PCMA",
        "payloadType": 110,
        "clockRate": 8000,
    }
    assert set(sent) == {"call_id", "transport_id", "kind", "rtp_parameters"}  # nothing private leaks
    method.record(ledger, params, {"producer_id": "p1"})
    assert ledger.dtmf_carriers == {"p1": "audio/PCMA"}
    ledger.remove_transport("t1")
    assert ledger.dtmf_carriers == {}
