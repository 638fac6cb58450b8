from __future__ import annotations

from sip_gateway.media import producer_rtp_parameters
from sip_gateway.sdp import negotiate, parse_offer

OPUS_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 30000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def test_telephone_event_beside_opus_is_produced_at_8_khz() -> None:
    # The router's only telephone-event is 8 kHz: produced at Opus's 48 kHz, mediasoup refused the
    # caller's producer and an Opus offer with keys got no answer.
    choice = negotiate(parse_offer(OPUS_OFFER))
    assert choice is not None
    codecs = producer_rtp_parameters(choice, 4321)["codecs"]
    assert codecs[0] == {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}
    assert codecs[1] == {"mimeType": "audio/telephone-event", "payloadType": 101, "clockRate": 8000}
