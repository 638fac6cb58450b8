"""A bounded fuzz of /api/v1/call against the real stack (gunicorn, the real Orchestrator, the
media-controller, mediasoup): a few thousand frames over many calls — every whitelisted
mediasoup_request method with mutated data, malformed JSON, wrong shapes, binary frames. Every
frame is answered as docs/protocol.md says (a mediasoup_response for each request, an `error`
for each bad frame, or the documented end of the call), and no worker process dies."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media_controller.signalling import CLIENT_METHODS
from voicebot_callsim.raw import CALL_TERMINATED, call_start, connect, recv_json
from voicebot_protocol import ErrorCode
from websockets.exceptions import ConnectionClosed

from tests.support.fullstack import FullStack, start_full_stack

FRAMES_PER_CALL = 80
CALLS = 60  # 40-80 frames each (a call ends early after too many bad frames)
REPLY_TIMEOUT = 10.0
# 4429 too many bad frames, 4502 the media plane failed, 1000 the dialog completed (docs/protocol.md)
DOCUMENTED_ENDS = {4429, 4502, 1000}
ANSWERED: list[int] = []  # frames answered per call, for the summary line
PARAM_NAMES = [
    "transport_id",
    "producer_id",
    "consumer_id",
    "ip",
    "port",
    "comedia",
    "rtcp_mux",
    "kind",
    "rtp_parameters",
    "rtp_capabilities",
    "dtls_parameters",
    "paused",
    "app_data",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=40) | st.sampled_from(["bot", "127.0.0.1", "255.255.255.255", "::1", "audio"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
media_data = st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8), json_values, max_size=5)


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, str | bytes]:
    """(what it is, the frame)."""
    kind = draw(st.sampled_from(["media"] * 6 + ["garbage", "shape", "binary", "unknown", "ack"]))
    if kind == "media":
        method = draw(st.sampled_from(sorted(CLIENT_METHODS)) | st.text(min_size=1, max_size=20))
        payload = {"request_id": draw(st.integers(0, 10**6)), "method": method, "data": draw(media_data)}
        return kind, json.dumps({"event": "mediasoup_request", "payload": payload})
    if kind == "garbage":
        return kind, draw(st.text(max_size=200).filter(lambda t: not _is_json_object(t)))
    if kind == "shape":
        return kind, json.dumps({"event": "mediasoup_request", "payload": draw(json_values)})
    if kind == "binary":
        return kind, draw(st.binary(min_size=1, max_size=200))
    if kind == "unknown":
        return kind, json.dumps({"event": draw(st.text(max_size=20)), "payload": draw(json_values)})
    return kind, json.dumps({"event": "playback_ack", "payload": draw(json_values)})


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    running = start_full_stack(Path(tmp_path_factory.mktemp("fuzz")), workers=2)
    yield running
    running.stop()


async def next_answer(ws: Any) -> dict[str, Any]:
    """The next message that answers a frame (skipping the bot's own events)."""
    while True:
        message = await recv_json(ws, REPLY_TIMEOUT)
        if message["event"] not in ("play_audio", "stop_audio", "transcript"):
            return message


async def fuzz_one_call(url: str, sequence: list[tuple[str, str | bytes]]) -> int:
    """Plays the frames on one call; returns how many were answered."""
    ws = await connect(url)
    await ws.send(call_start(f"fuzz-{uuid.uuid4().hex[:10]}", contact_name="Ann"))
    assert (await recv_json(ws, REPLY_TIMEOUT))["event"] == "call_accepted"
    answered = 0
    try:
        for kind, frame in sequence:
            try:
                await ws.send(frame)
                answer = await next_answer(ws)
            except ConnectionClosed as closed:  # the server ended the call as documented, mid-frame
                assert closed.rcvd is not None and closed.rcvd.code in DOCUMENTED_ENDS, closed
                return answered
            answered += 1
            if kind == "media" and answer["event"] == "mediasoup_response":
                ok, payload = answer["payload"].get("ok", True), answer["payload"]
                assert ok or (payload.get("error") and payload.get("code")), answer
                continue
            if (
                answer["event"] == "call_ended"
            ):  # the documented ends: too many bad frames, or the media plane
                assert answer["code"] in ("too_many_errors", "media_failure", "dialog_completed"), answer
                return answered
            assert answer["event"] == "error", (kind, frame, answer)
            assert answer["payload"]["code"] in {c.value for c in ErrorCode}, answer
        try:
            await ws.send(CALL_TERMINATED)
        except ConnectionClosed as closed:  # the last frame was one too many: ended as documented
            assert closed.rcvd is not None and closed.rcvd.code in DOCUMENTED_ENDS, closed
            return answered
        with pytest.raises(ConnectionClosed):
            while True:
                await recv_json(ws, REPLY_TIMEOUT)
    finally:
        await ws.close()
    return answered


@settings(max_examples=CALLS, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(sequence=st.lists(frames(), min_size=40, max_size=FRAMES_PER_CALL))
def test_every_frame_is_answered_and_nothing_crashes(
    stack: FullStack, sequence: list[tuple[str, Any]]
) -> None:
    workers = set(stack.call_api.worker_pids())
    service = stack.media.service.pid
    answered = asyncio.run(fuzz_one_call(stack.call_api.ws_url, sequence))
    ANSWERED.append(answered)
    print(f"\nfuzz: {sum(ANSWERED)} frames answered over {len(ANSWERED)} calls", end="")
    assert answered >= 1
    assert set(stack.call_api.worker_pids()) == workers, "a call-api worker died"
    assert stack.media.service.pid == service and stack.media.service.alive()
    assert stack.media.get("/v1/stats")["workers"], "the media plane lost its workers"
