"""GET /metrics on the call-api (every gunicorn worker's values) and on the media-controller,
before and after a real booking call with a barge-in."""

import uuid

from voicebot_callsim.call import GatewayCall

from tests.support.metrics import scrape, value
from tests.tracing.calls import booking_call_with_barge_in
from tests.tracing.conftest import TracedStack


async def test_metrics_count_a_call(traced: TracedStack) -> None:
    stack = traced.stack
    api_url, controller_url = stack.call_api.http_url + "/metrics", stack.media.controller_url + "/metrics"
    before, controller_before = scrape(api_url), scrape(controller_url)

    call_id = f"metrics-{uuid.uuid4().hex[:8]}"
    call = GatewayCall(stack.call_api.ws_url, call_id, {"contact_name": "Ann"})
    try:
        await booking_call_with_barge_in(call)
    finally:
        await call.aclose()
    await stack.call_api.log_record("call closed", call_id, timeout=10)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Two workers, one answers each scrape: the sums are the same whichever it is.
    scrapes = [scrape(api_url) for _ in range(8)]
    after = scrapes[0]
    assert all(s == after for s in scrapes)
    assert delta("callapi_calls_total", outcome="ended", reason="dialog_completed") == 1
    assert value(after, "callapi_active_calls") == 0
    assert delta("callapi_barge_ins_total") == 1
    # Greeting + 3 replies (one cut by the barge-in, said again... at least 3) and 3 caller turns.
    assert delta("callapi_stt_final_seconds_count") >= 3
    assert delta("callapi_dialog_first_text_seconds_count") >= 4
    assert delta("callapi_tts_first_audio_seconds_count") >= 4
    assert delta("callapi_turn_response_seconds_count") >= 3
    assert delta("callapi_server_overhead_seconds_count") == delta("callapi_turn_response_seconds_count")
    assert 0 < delta("callapi_server_overhead_seconds_sum") < delta("callapi_turn_response_seconds_sum")
    lookups = delta("callapi_cache_lookups_total", cache="tts", result="hit") + delta(
        "callapi_cache_lookups_total", cache="tts", result="miss"
    )
    assert lookups >= 4
    assert ("callapi_redis_degraded", ()) in after and value(after, "callapi_redis_degraded") == 0
    assert not any(name == "callapi_provider_errors_total" for name, _ in after)  # none failed

    controller = scrape(controller_url)
    assert (
        value(controller, "media_sessions_opened_total")
        - value(controller_before, "media_sessions_opened_total")
        == 1
    )
    assert value(controller, "media_sessions_active") == 0
    assert (
        value(controller, "media_http_requests_total", method="POST", route="/v1/sessions", status="201") >= 1
    )
    assert value(controller, "media_service_request_seconds_count", method="session.open", outcome="ok") >= 1
