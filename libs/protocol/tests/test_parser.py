"""parse_client_message: every way a frame can be bad has its own error code; the spec's shapes parse."""

import json

import pytest
from voicebot_protocol import (
    CallAccepted,
    CallFailed,
    CallStart,
    CallTerminated,
    ErrorCode,
    MediasoupRequest,
    PlaybackAck,
    ProtocolError,
    StopAudio,
    parse_client_message,
    parse_server_message,
)

BAD_FRAMES: list[tuple[str, str | bytes, ErrorCode]] = [
    ("binary", b'{"event": "call_terminated"}', ErrorCode.BINARY_FRAME),
    (
        "too_large",
        json.dumps({"event": "call_terminated", "payload": {"pad": "x" * 2000}}),
        ErrorCode.FRAME_TOO_LARGE,
    ),
    (
        "too_large_multibyte",
        json.dumps({"event": "call_terminated", "payload": {"pad": "я" * 600}}, ensure_ascii=False),
        ErrorCode.FRAME_TOO_LARGE,
    ),
    ("not_json", "hello", ErrorCode.NOT_JSON),
    ("truncated_json", '{"event": "call_start"', ErrorCode.NOT_JSON),
    ("deeply_nested", "[" * 60000, ErrorCode.NOT_JSON),
    ("empty", "", ErrorCode.NOT_JSON),
    ("array", "[]", ErrorCode.NOT_OBJECT),
    ("string", '"call_start"', ErrorCode.NOT_OBJECT),
    ("null", "null", ErrorCode.NOT_OBJECT),
    ("no_event", '{"payload": {}}', ErrorCode.UNKNOWN_EVENT),
    ("unknown_event", '{"event": "hangup"}', ErrorCode.UNKNOWN_EVENT),
    (
        "server_event_from_client",
        '{"event": "call_accepted", "payload": {"status": "ok"}}',
        ErrorCode.UNKNOWN_EVENT,
    ),
    ("event_not_a_string", '{"event": 5}', ErrorCode.UNKNOWN_EVENT),
    ("call_start_without_payload", '{"event": "call_start"}', ErrorCode.INVALID_MESSAGE),
    ("call_start_without_call_id", '{"event": "call_start", "payload": {}}', ErrorCode.INVALID_MESSAGE),
    ("call_id_empty", '{"event": "call_start", "payload": {"call_id": ""}}', ErrorCode.INVALID_MESSAGE),
    (
        "call_id_bad_chars",
        '{"event": "call_start", "payload": {"call_id": "a b"}}',
        ErrorCode.INVALID_MESSAGE,
    ),
    (
        "call_id_too_long",
        json.dumps({"event": "call_start", "payload": {"call_id": "a" * 129}}),
        ErrorCode.INVALID_MESSAGE,
    ),
    (
        "nested_initial_vars",
        '{"event": "call_start", "payload": {"call_id": "a", "initial_vars": {"x": [1]}}}',
        ErrorCode.INVALID_MESSAGE,
    ),
    (
        "too_many_initial_vars",
        json.dumps(
            {
                "event": "call_start",
                "payload": {"call_id": "a", "initial_vars": {str(i): i for i in range(65)}},
            }
        ),
        ErrorCode.INVALID_MESSAGE,
    ),
    ("unknown_top_level_field", '{"event": "call_terminated", "extra": 1}', ErrorCode.INVALID_MESSAGE),
    (
        "mediasoup_without_method",
        '{"event": "mediasoup_request", "payload": {"data": {}}}',
        ErrorCode.INVALID_MESSAGE,
    ),
    (
        "mediasoup_data_not_object",
        '{"event": "mediasoup_request", "payload": {"method": "x", "data": []}}',
        ErrorCode.INVALID_MESSAGE,
    ),
    (
        "playback_ack_negative",
        '{"event": "playback_ack", "payload": {"stream_id": "s", "played_ms": -1}}',
        ErrorCode.INVALID_MESSAGE,
    ),
]


@pytest.mark.parametrize(("frame", "code"), [c[1:] for c in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES])
def test_bad_frame_has_its_code(frame: str | bytes, code: ErrorCode) -> None:
    limit = 1024 if code is ErrorCode.FRAME_TOO_LARGE else 64 * 1024
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(frame, max_bytes=limit)
    assert caught.value.code is code
    assert caught.value.message
    assert str(caught.value).startswith(f"{code}: ")


def test_every_parser_error_code_is_covered() -> None:
    parser_codes = {
        c for c in ErrorCode if c not in (ErrorCode.UNEXPECTED_EVENT, ErrorCode.MEDIA_REQUEST_FAILED)
    }
    assert {case[2] for case in BAD_FRAMES} == parser_codes


def test_the_spec_client_messages_parse() -> None:
    payload = {"call_id": "abc-1", "trace_id": "t", "initial_vars": {"contact_name": "Ann"}}
    start = parse_client_message(json.dumps({"event": "call_start", "payload": payload}))
    assert isinstance(start, CallStart)
    assert start.payload.call_id == "abc-1" and start.payload.initial_vars == {"contact_name": "Ann"}
    request = parse_client_message(
        '{"event": "mediasoup_request", "payload": {"method": "produce", "data": {"k": 1}}}'
    )
    assert isinstance(request, MediasoupRequest) and request.payload.data == {"k": 1}
    assert isinstance(parse_client_message('{"event": "call_terminated"}'), CallTerminated)
    ack = parse_client_message('{"event": "playback_ack", "payload": {"stream_id": "s1"}}')
    assert isinstance(ack, PlaybackAck)


def test_unknown_payload_fields_are_ignored() -> None:
    start = parse_client_message('{"event": "call_start", "payload": {"call_id": "a", "future_field": 1}}')
    assert isinstance(start, CallStart)


def test_frame_size_counts_bytes_not_characters() -> None:
    frame = json.dumps({"event": "call_terminated", "payload": {"pad": "я" * 600}}, ensure_ascii=False)
    assert len(frame) < 1024 < len(frame.encode())
    with pytest.raises(ProtocolError):
        parse_client_message(frame, max_bytes=1024)


def test_the_spec_server_shapes_serialise_exactly() -> None:
    assert StopAudio().to_json() == '{"event":"stop_audio"}'
    assert (
        CallFailed(reason="TTS unavailable").to_json() == '{"event":"call_failed","reason":"TTS unavailable"}'
    )
    failed = json.loads(CallFailed(reason="TTS unavailable", code="tts_unavailable").to_json())
    assert failed == {"event": "call_failed", "reason": "TTS unavailable", "code": "tts_unavailable"}
    accepted = json.loads(CallAccepted().to_json())
    assert accepted["event"] == "call_accepted" and accepted["payload"]["status"] == "ok"


def test_server_messages_roundtrip() -> None:
    for message in (StopAudio(), CallFailed(reason="x", code="orchestrator_error"), CallAccepted()):
        assert parse_server_message(message.to_json()) == message
