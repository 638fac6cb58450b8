"""Step 5 of the spec: the factory raised → call_failed (the spec's shape, `reason` top-level)
and close 4503."""

from collections.abc import Callable

from tests.support.callapi import CallApiServer, call_start, connect, expect_close, recv_json


async def test_tts_unavailable_is_reported_exactly_as_the_spec_says(
    start_call_api: Callable[..., CallApiServer],
) -> None:
    api = start_call_api("create_tts_unavailable_orchestrator")
    for n in range(3):
        ws = await connect(api.ws_url)
        await ws.send(call_start(f"tts-down-{n}", contact_name="Ann"))
        assert await recv_json(ws) == {
            "event": "call_failed",
            "reason": "TTS unavailable",
            "code": "tts_unavailable",
        }
        assert await expect_close(ws) == (4503, "tts_unavailable")
    # The call_id was released: the same id is refused for the same reason, not as a duplicate.
    ws = await connect(api.ws_url)
    await ws.send(call_start("tts-down-0"))
    assert (await recv_json(ws))["code"] == "tts_unavailable"


async def test_a_crashing_factory_is_orchestrator_unavailable(
    start_call_api: Callable[..., CallApiServer],
) -> None:
    api = start_call_api("create_crashing_orchestrator")
    ws = await connect(api.ws_url)
    await ws.send(call_start("crash-1"))
    assert await recv_json(ws) == {
        "event": "call_failed",
        "reason": "orchestrator unavailable",
        "code": "orchestrator_error",
    }
    assert await expect_close(ws) == (4503, "orchestrator_error")
    record = await api.log_record("orchestrator factory crashed", "crash-1")
    assert "the factory crashed" in record["exc"]
    # Both workers are still there and serving.
    assert len(api.worker_pids()) == 2


async def test_a_factory_path_that_does_not_load_stops_the_boot(
    start_call_api: Callable[..., CallApiServer],
) -> None:
    try:
        start_call_api("no_such_factory")
    except RuntimeError as exc:
        assert "is not a callable orchestrator factory" in str(exc)
    else:
        raise AssertionError("gunicorn started with a factory that does not exist")
