"""Every bad input has its documented outcome (docs/protocol.md, "Bad input"), and loses nothing:
before acceptance → call_failed + a close code; mid-call → an `error` event and the call goes on."""

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from call_api.settings import Settings

from tests.support.callapi import (
    CALL_TERMINATED,
    CallApiServer,
    call_start,
    connect,
    expect_close,
    mediasoup_request,
    open_call,
    recv_json,
)

MAX_FRAME = 8192  # CALL_API_MAX_FRAME_BYTES in conftest.TEST_ENV
TRANSPORT_CAP = MAX_FRAME * 16


def new_call_id() -> str:
    return f"bad-{uuid.uuid4().hex[:12]}"


FIRST_FRAME_CASES: list[tuple[str, Any, str, int]] = [
    ("not_json", "hello", "not_json", 1008),
    ("not_object", "[1, 2]", "not_object", 1008),
    ("unknown_event", json.dumps({"event": "dial", "payload": {}}), "unknown_event", 1008),
    ("no_event", json.dumps({"payload": {}}), "unknown_event", 1008),
    ("missing_call_id", json.dumps({"event": "call_start", "payload": {}}), "invalid_message", 1008),
    (
        "bad_call_id",
        json.dumps({"event": "call_start", "payload": {"call_id": "has spaces"}}),
        "invalid_message",
        1008,
    ),
    (
        "bad_initial_vars",
        json.dumps(
            {"event": "call_start", "payload": {"call_id": "x", "initial_vars": {"a": {"nested": 1}}}}
        ),
        "invalid_message",
        1008,
    ),
    ("binary", b"\x00\x01binary", "binary_frame", 1003),
    ("not_call_start_first", mediasoup_request(1), "unexpected_event", 1008),
    ("terminated_first", CALL_TERMINATED, "unexpected_event", 1008),
    (
        "too_large",
        json.dumps({"event": "call_start", "payload": {"call_id": "x", "pad": "a" * MAX_FRAME}}),
        "frame_too_large",
        1009,
    ),
]


@pytest.mark.parametrize(
    ("frame", "error_code", "close_code"),
    [c[1:] for c in FIRST_FRAME_CASES],
    ids=[c[0] for c in FIRST_FRAME_CASES],
)
async def test_bad_first_frame_is_refused(
    echo_api: CallApiServer, frame: Any, error_code: str, close_code: int
) -> None:
    ws = await connect(echo_api.ws_url)
    await ws.send(frame)
    failed = await recv_json(ws)
    assert set(failed) == {"event", "reason", "code"}
    assert failed["event"] == "call_failed"
    assert failed["code"] == "protocol_error"
    assert failed["reason"].startswith(f"{error_code}: ")
    assert await expect_close(ws) == (close_code, "protocol_error")


DEFAULT_CALL_START_TIMEOUT = Settings.model_fields["call_start_timeout"].default


async def test_no_call_start_within_the_timeout(start_call_api: Callable[..., CallApiServer]) -> None:
    api = start_call_api(CALL_API_CALL_START_TIMEOUT="1.0")
    ws = await connect(api.ws_url)
    started = time.monotonic()
    failed = await recv_json(ws, timeout=DEFAULT_CALL_START_TIMEOUT)
    assert failed == {
        "event": "call_failed",
        "reason": "no call_start within 1s",
        "code": "call_start_timeout",
    }
    # Not before the 1 s set; well before the default (a loaded machine may add seconds on top).
    assert 0.9 <= time.monotonic() - started < DEFAULT_CALL_START_TIMEOUT
    assert await expect_close(ws) == (4408, "call_start_timeout")


async def test_first_frame_over_the_transport_cap_is_cut_off(echo_api: CallApiServer) -> None:
    ws = await connect(echo_api.ws_url)
    await ws.send("x" * (TRANSPORT_CAP + 1))
    code, _ = await expect_close(ws)
    assert code == 1009


async def test_the_worker_survives_a_client_that_leaves_at_once(echo_api: CallApiServer) -> None:
    for _ in range(5):
        ws = await connect(echo_api.ws_url)
        ws.transport.abort()
    ws = await open_call(echo_api.ws_url, new_call_id())
    await ws.send(CALL_TERMINATED)
    assert (await expect_close(ws))[0] == 1000


MID_CALL_CASES: list[tuple[str, Any, str]] = [
    ("not_json", "{oops", "not_json"),
    ("not_object", '"a string"', "not_object"),
    ("unknown_event", json.dumps({"event": "dial"}), "unknown_event"),
    ("schema", json.dumps({"event": "mediasoup_request", "payload": {"data": {}}}), "invalid_message"),
    ("binary", b"\x00" * 640, "binary_frame"),
    ("second_call_start", call_start("another-call"), "unexpected_event"),
    ("too_large", mediasoup_request(1, data="a" * MAX_FRAME), "frame_too_large"),
]


@pytest.mark.parametrize(
    ("frame", "error_code"), [c[1:] for c in MID_CALL_CASES], ids=[c[0] for c in MID_CALL_CASES]
)
async def test_bad_frame_mid_call_gets_an_error_and_the_call_goes_on(
    echo_api: CallApiServer, frame: Any, error_code: str
) -> None:
    ws = await open_call(echo_api.ws_url, new_call_id())
    assert (await recv_json(ws))["event"] == "play_audio"
    await ws.send(frame)
    error = await recv_json(ws)
    assert error["event"] == "error"
    assert error["payload"]["code"] == error_code
    assert error["payload"]["message"]
    await ws.send(mediasoup_request(42))
    answer = await recv_json(ws)
    assert answer["event"] == "mediasoup_response" and answer["payload"]["request_id"] == 42
    await ws.send(CALL_TERMINATED)
    assert await expect_close(ws) == (1000, "call_terminated")


async def test_too_many_bad_frames_end_the_call(echo_api: CallApiServer) -> None:
    call_id = new_call_id()
    ws = await open_call(echo_api.ws_url, call_id)
    await recv_json(ws)  # greeting
    for n in range(5):  # CALL_API_MAX_ERRORS_PER_CALL=5
        await ws.send(f"garbage {n}")
        assert (await recv_json(ws))["payload"]["code"] == "not_json"
    assert await recv_json(ws) == {"event": "call_ended", "reason": "5 bad frames", "code": "too_many_errors"}
    assert await expect_close(ws) == (4429, "too_many_errors")
    await echo_api.log_record("test orchestrator closed", call_id)


async def test_frame_over_the_transport_cap_mid_call_closes_1009_and_cleans_up(
    echo_api: CallApiServer,
) -> None:
    call_id = new_call_id()
    ws = await open_call(echo_api.ws_url, call_id)
    await ws.send("x" * (TRANSPORT_CAP + 1))
    code, _ = await expect_close(ws)
    assert code == 1009
    await echo_api.log_record("test orchestrator closed", call_id)
    closed = await echo_api.log_record("call closed", call_id)
    assert closed["client_close_code"] == 1009


async def test_duplicate_call_id_is_refused_on_every_worker(echo_api: CallApiServer) -> None:
    call_id = new_call_id()
    first = await open_call(echo_api.ws_url, call_id)
    assert (await recv_json(first))["event"] == "play_audio"
    for _ in range(6):
        ws = await connect(echo_api.ws_url)
        await ws.send(call_start(call_id))
        assert await recv_json(ws) == {
            "event": "call_failed",
            "reason": f"call {call_id} is already active",
            "code": "duplicate_call",
        }
        assert await expect_close(ws) == (4409, "duplicate_call")

    def refusals() -> list[dict[str, Any]]:
        return [r for r in echo_api.log_records("call refused") if r.get("call_id") == call_id]

    # A worker logs the refusal around its answer: the line may still be in the log pipe.
    assert echo_api.proc is not None
    await asyncio.to_thread(echo_api.proc.wait_logged, lambda: len(refusals()) >= 6, "6 'call refused' lines")
    refused = refusals()
    refusing_workers = {r["pid"] for r in refused}
    assert len(refused) == 6
    # The original call is untouched.
    await first.send(mediasoup_request(5))
    assert (await recv_json(first))["payload"]["request_id"] == 5
    await first.send(CALL_TERMINATED)
    await expect_close(first)
    await echo_api.log_record("call closed", call_id)
    again = await open_call(echo_api.ws_url, call_id)
    await again.close()
    assert refusing_workers  # (which workers refused is the kernel's choice; Redis makes any of them refuse)


async def test_concurrent_duplicates_only_one_wins(echo_api: CallApiServer) -> None:
    call_id = new_call_id()

    async def attempt() -> tuple[str, Any]:
        ws = await connect(echo_api.ws_url)
        await ws.send(call_start(call_id))
        return str((await recv_json(ws))["event"]), ws

    results = await asyncio.gather(*(attempt() for _ in range(10)))
    assert sorted(event for event, _ in results) == ["call_accepted"] + ["call_failed"] * 9
    for event, ws in results:
        if event == "call_accepted":
            await ws.send(CALL_TERMINATED)
        await expect_close(ws)
