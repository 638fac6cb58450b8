from voicebot_tracing import make_traceparent, new_trace_id, trace_id_of_traceparent


def test_a_made_traceparent_carries_its_trace_id() -> None:
    trace_id = new_trace_id()
    header = make_traceparent(trace_id)
    assert header.startswith(f"00-{trace_id}-") and header.endswith("-01")
    assert trace_id_of_traceparent(header) == trace_id
    assert make_traceparent(trace_id, "a" * 16, sampled=False) == f"00-{trace_id}-{'a' * 16}-00"


def test_invalid_traceparents_carry_no_trace_id() -> None:
    trace_id = new_trace_id()
    for bad in (
        None,
        "",
        "garbage",
        f"01-{trace_id}-{'a' * 16}-01",
        f"00-{'0' * 32}-{'a' * 16}-01",
        f"00-{trace_id}-{'0' * 16}-01",
        f"00-{trace_id[:-1]}-{'a' * 16}-01",
    ):
        assert trace_id_of_traceparent(bad) is None, bad


def test_credentials_in_log_text_are_redacted() -> None:
    from voicebot_tracing.logs import redact

    line = '127.0.0.1:5 - "WebSocket /api/v1/call?token=vbk_abc123&x=1" [accepted]'
    assert redact(line) == '127.0.0.1:5 - "WebSocket /api/v1/call?token=[redacted]&x=1" [accepted]'
    assert redact("Authorization: Bearer vbt1.a.b") == "Authorization: Bearer [redacted]"
    assert redact("nothing secret here, tokens=3") == "nothing secret here, tokens=3"
