"""The /api/v1/call happy path and the call's end, against real gunicorn (2 workers) and real Redis."""

import json
import re
import urllib.request
import uuid

import redis
from call_api.registry import active_call_key
from voicebot_stack.credentials import scoped_call_id

from tests.support.callapi import (
    CALL_TERMINATED,
    CallApiServer,
    connect,
    expect_close,
    mediasoup_request,
    open_call,
    recv_json,
)
from tests.support.redis import RedisServer


def new_call_id() -> str:
    return f"call-{uuid.uuid4().hex[:12]}"


def redis_client(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=2)


async def test_happy_path_spec_shapes_and_clean_end(
    echo_api: CallApiServer, redis_server: RedisServer
) -> None:
    call_id = new_call_id()
    ws = await connect(echo_api.ws_url)
    assert ws.response.headers["X-Call-Api-Instance"] == echo_api.instance
    await ws.send(
        json.dumps(
            {"event": "call_start", "payload": {"call_id": call_id, "initial_vars": {"contact_name": "Ann"}}}
        )
    )

    accepted = await recv_json(ws)
    assert accepted["event"] == "call_accepted"
    assert accepted["payload"]["status"] == "ok"  # the spec's shape
    assert accepted["payload"]["call_id"] == call_id
    assert accepted["payload"]["protocol_version"] == 1
    assert re.fullmatch(r"[0-9a-f]{32}", accepted["payload"]["trace_id"])

    greeting = await recv_json(ws)
    assert greeting == {
        "event": "play_audio",
        "payload": {
            "stream_id": f"{call_id}:greeting",
            "rtp_port": 40000,
            "codec": "opus",
            "text": "Hello, Ann",
        },
    }

    token = redis_client(redis_server).get(active_call_key(scoped_call_id(call_id)))
    assert token is not None and token.decode().startswith(echo_api.instance + "/")

    await ws.send(mediasoup_request(7, "transport.createWebRtc", direction="send"))
    answer = await recv_json(ws)
    assert answer == {
        "event": "mediasoup_response",
        "payload": {
            "request_id": 7,
            "ok": True,
            "data": {"method": "transport.createWebRtc", "echo": {"direction": "send"}},
        },
    }
    await ws.send(
        json.dumps(
            {"event": "playback_ack", "payload": {"stream_id": f"{call_id}:greeting", "played_ms": 900}}
        )
    )

    await ws.send(CALL_TERMINATED)
    assert await expect_close(ws) == (1000, "call_terminated")
    await echo_api.log_record("test orchestrator closed", call_id)
    closed = await echo_api.log_record("call closed", call_id)
    assert closed["trace_id"] == accepted["payload"]["trace_id"]
    assert redis_client(redis_server).exists(active_call_key(scoped_call_id(call_id))) == 0


async def test_every_log_line_of_a_call_carries_its_ids(echo_api: CallApiServer) -> None:
    call_id = new_call_id()
    ws = await open_call(echo_api.ws_url, call_id)
    await ws.send(CALL_TERMINATED)
    await expect_close(ws)
    await echo_api.log_record("call closed", call_id)
    records = [r for r in echo_api.log_records() if r.get("call_id") == call_id]
    assert {"call accepted", "test orchestrator closed", "call ended by the client", "call closed"} <= {
        r["message"] for r in records
    }
    trace_ids = {r["trace_id"] for r in records}
    assert len(trace_ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", trace_ids.pop() or "")


async def test_trace_id_header_wins_and_is_normalized(echo_api: CallApiServer) -> None:
    call_id = new_call_id()
    header = "0123ABCD-4567-89AB-CDEF-0123456789AB"
    ws = await connect(echo_api.ws_url, {"X-Trace-ID": header})
    payload = {"call_id": call_id, "trace_id": "ffffffffffffffffffffffffffffffff"}
    await ws.send(json.dumps({"event": "call_start", "payload": payload}))
    accepted = await recv_json(ws)
    assert accepted["payload"]["trace_id"] == "0123abcd456789abcdef0123456789ab"
    await ws.close()
    record = await echo_api.log_record("call accepted", call_id)
    assert record["trace_id"] == "0123abcd456789abcdef0123456789ab"


async def test_trace_id_from_call_start_when_no_header(echo_api: CallApiServer) -> None:
    ws = await connect(echo_api.ws_url)
    trace_id = "abcdefabcdefabcdefabcdefabcdef12"
    await ws.send(
        json.dumps({"event": "call_start", "payload": {"call_id": new_call_id(), "trace_id": trace_id}})
    )
    assert (await recv_json(ws))["payload"]["trace_id"] == trace_id
    await ws.close()


async def test_client_disconnect_stops_the_orchestrator_and_frees_the_call_id(
    echo_api: CallApiServer, redis_server: RedisServer
) -> None:
    call_id = new_call_id()
    ws = await open_call(echo_api.ws_url, call_id)
    ws.transport.abort()  # no close frame: the TCP connection just drops
    await echo_api.log_record("test orchestrator closed", call_id)
    await echo_api.log_record("call closed", call_id)
    assert redis_client(redis_server).exists(active_call_key(scoped_call_id(call_id))) == 0
    # The call_id is free again.
    again = await open_call(echo_api.ws_url, call_id)
    await again.send(CALL_TERMINATED)
    assert (await expect_close(again))[0] == 1000


async def test_orchestrator_result_ends_the_call(echo_api: CallApiServer) -> None:
    ws = await open_call(echo_api.ws_url, new_call_id())
    await recv_json(ws)  # greeting
    await ws.send(mediasoup_request(1, "test.hangup"))
    assert await recv_json(ws) == {
        "event": "call_ended",
        "reason": "dialog completed",
        "code": "dialog_completed",
    }
    assert await expect_close(ws) == (1000, "dialog_completed")

    ws = await open_call(echo_api.ws_url, new_call_id())
    await recv_json(ws)
    await ws.send(mediasoup_request(1, "test.media_failure"))
    assert await recv_json(ws) == {
        "event": "call_ended",
        "reason": "media server lost",
        "code": "media_failure",
    }
    assert await expect_close(ws) == (4502, "media_failure")


async def test_orchestrator_crash_ends_only_that_call(echo_api: CallApiServer) -> None:
    bystander_id = new_call_id()
    bystander = await open_call(echo_api.ws_url, bystander_id)
    await recv_json(bystander)
    call_id = new_call_id()
    ws = await open_call(echo_api.ws_url, call_id)
    await recv_json(ws)
    await ws.send(mediasoup_request(1, "test.crash"))
    assert await recv_json(ws) == {
        "event": "call_ended",
        "reason": "internal error",
        "code": "internal_error",
    }
    assert await expect_close(ws) == (1011, "internal_error")
    await echo_api.log_record("test orchestrator closed", call_id)
    await bystander.send(mediasoup_request(2))
    assert (await recv_json(bystander))["payload"]["request_id"] == 2
    await bystander.send(CALL_TERMINATED)
    await expect_close(bystander)


def test_health_and_readiness(echo_api: CallApiServer) -> None:
    with urllib.request.urlopen(f"{echo_api.http_url}/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["X-Call-Api-Instance"] == echo_api.instance
    with urllib.request.urlopen(f"{echo_api.http_url}/readyz", timeout=5) as resp:
        body = json.loads(resp.read())
        assert resp.status == 200
        assert body["status"] == "ready" and body["draining"] is False and body["redis_degraded"] is False
        assert resp.headers["X-Call-Api-Instance"] == echo_api.instance


def test_the_factory_startup_hook_runs_once_per_worker(echo_api: CallApiServer) -> None:
    def started() -> list[int]:
        return [r["pid"] for r in echo_api.log_records("test factory startup")]

    # A worker logs "ready" (what start() waited for) before its hook runs: wait for every hook.
    assert echo_api.proc is not None
    echo_api.proc.wait_logged(lambda: set(echo_api.worker_pids()) <= set(started()), "every worker's hook")
    assert sorted(started()) == sorted(set(started()))


def test_every_line_gunicorn_prints_is_json_with_the_ids(echo_api: CallApiServer) -> None:
    assert echo_api.proc is not None
    lines = [line for line in echo_api.proc.output().splitlines() if line.strip()]
    assert any('"logger": "gunicorn.error"' in line for line in lines)  # the master's own lines too
    for line in lines:
        record = json.loads(line)
        assert {"ts", "level", "service", "message", "trace_id", "call_id", "pid"} <= record.keys(), line
