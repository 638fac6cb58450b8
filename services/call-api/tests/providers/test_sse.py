"""The SSE decoder used for streamed chat completions."""

from call_api.providers.dialog.sse import DONE, SseDecoder, parse_event


def test_events_comments_and_multiline_data() -> None:
    decoder = SseDecoder()
    lines = [b": keep-alive\n", b'data: {"a":\n', b"data: 1}\n", b"\n", b"data: [DONE]\r\n", b"\r\n"]
    events = [data for line in lines if (data := decoder.line(line)) is not None]
    assert events == ['{"a":\n1}', "[DONE]"]
    assert parse_event(events[0]) == {"a": 1}
    assert parse_event(events[1]) is DONE


def test_data_without_the_final_blank_line() -> None:
    decoder = SseDecoder()
    assert decoder.line(b'data: {"x": 2}') is None
    assert decoder.end() == '{"x": 2}'
