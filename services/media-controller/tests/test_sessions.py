"""Sessions over HTTP against the real service: signalling whitelist, ownership, cleanup, errors."""

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest
from voicebot_mediaclient import MediaClient, MediaRequestError, MediaUnavailable
from voicebot_protocol.media import BotLegReady, PlaybackFinished, PlaybackStarted

from tests.support.media import MediaStack, connect_gateway


def http(
    stack: MediaStack, method: str, path: str, body: bytes | None = None, *, secret: str | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(stack.controller_url + path, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {stack.api_secret if secret is None else secret}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


async def test_refuses_methods_outside_the_whitelist_and_bad_params(client: MediaClient) -> None:
    session = await client.open_session("refusals", "1" * 32)
    try:
        for method in ("stats", "session.close", "audioLevel.observe", "dumpRouter"):
            with pytest.raises(MediaRequestError) as refused:
                await session.signal(method, {})
            assert refused.value.code == "forbidden_method"
        bad_params: list[tuple[str, dict[str, Any]]] = [
            ("createPlainTransport", {"comedia": "yes"}),
            ("createPlainTransport", {"listen_ip": "0.0.0.0"}),  # not the client's to choose
            ("connectPlainTransport", {"transport_id": "x", "ip": "not-an-ip", "port": 5000}),
            ("consume", {"transport_id": "x"}),
            ("produce", {"transport_id": "x", "kind": "video", "rtp_parameters": {}}),
        ]
        for method, data in bad_params:
            with pytest.raises(MediaRequestError) as refused:
                await session.signal(method, data)
            assert refused.value.code == "invalid_request", (method, data)
        with pytest.raises(MediaRequestError) as refused:
            await session.signal(
                "connectPlainTransport", {"transport_id": "nope", "ip": "127.0.0.1", "port": 5000}
            )
        assert refused.value.code == "not_found"
        transport = await session.signal("createPlainTransport", {"comedia": True})
        with pytest.raises(MediaRequestError) as refused:  # mediasoup itself rejects these parameters
            await session.signal(
                "produce",
                {
                    "transport_id": transport["transport_id"],
                    "kind": "audio",
                    "rtp_parameters": {"codecs": []},
                },
            )
        assert refused.value.code == "invalid_request"
        caps = await session.signal("getRouterRtpCapabilities", {})
        assert caps["rtp_capabilities"]["codecs"][0]["mimeType"] == "audio/opus"
    finally:
        await session.close()


async def test_a_call_cannot_name_another_calls_objects(client: MediaClient) -> None:
    alice = await client.open_session("alice", "2" * 32)
    bob = await client.open_session("bob", "3" * 32)
    try:
        bob_legs = await connect_gateway(bob.signal)
        alice_transport = await alice.signal("createPlainTransport", {"comedia": False})
        attempts = [
            (
                "connectPlainTransport",
                {"transport_id": bob_legs.bot_transport_id, "ip": "127.0.0.1", "port": 4000},
            ),
            (
                "consume",
                {"transport_id": alice_transport["transport_id"], "producer_id": bob.bot_producer_id},
            ),
            (
                "consume",
                {"transport_id": alice_transport["transport_id"], "producer_id": bob_legs.caller_producer_id},
            ),
            ("closeTransport", {"transport_id": bob_legs.caller_transport_id}),
            ("closeProducer", {"producer_id": bob_legs.caller_producer_id}),
            ("pauseConsumer", {"consumer_id": bob_legs.bot_consumer_id}),
            ("closeProducer", {"producer_id": alice.bot_producer_id}),  # alice's own, but the controller's
        ]
        for method, data in attempts:
            with pytest.raises(MediaRequestError) as refused:
                await alice.signal(method, data)
            assert refused.value.code == "foreign_object", (method, data)
        bob_stats = await bob.stats()
        assert bob_legs.caller_transport_id in bob_stats["transports"]  # untouched
        assert bob_legs.bot_consumer_id in bob_stats["consumers"]
        await alice.signal("consume", {"transport_id": alice_transport["transport_id"], "producer_id": "bot"})
        await bob.signal("pauseConsumer", {"consumer_id": bob_legs.bot_consumer_id})
        await bob.signal("resumeConsumer", {"consumer_id": bob_legs.bot_consumer_id})
        bob_legs.close()
    finally:
        await alice.close()
        await bob.close()


async def test_close_leaves_nothing_behind(client: MediaClient, stack: MediaStack) -> None:
    session = await client.open_session("cleanup", "4" * 32)
    legs = await connect_gateway(session.signal)
    events = session.events()
    try:
        await session.start_playback("s", 16000)
        await session.send_pcm(bytes(16000))  # 0.5 s
        await session.end_playback("s")
        async with asyncio.timeout(3):
            assert isinstance(await anext(events), BotLegReady)
            assert isinstance(await anext(events), PlaybackStarted)
            assert isinstance(await anext(events), PlaybackFinished)
        stats = await session.stats()
        # gateway: 2 transports, 1 producer, 1 consumer;
        # controller: bot + tap transports, bot producer, tap consumer
        assert (len(stats["transports"]), len(stats["producers"]), len(stats["consumers"])) == (4, 2, 2)
        assert "cleanup" in {s["call_id"] for s in stack.get("/v1/stats")["sessions"]}
    finally:
        legs.close()
        await session.close()
    await session.close()  # idempotent
    service = stack.get("/v1/stats")
    assert "cleanup" not in {s["call_id"] for s in service["sessions"]}
    assert sum(w["routers"] for w in service["workers"]) == len(service["sessions"])
    status, body = http(stack, "GET", "/v1/sessions/cleanup/stats")
    assert status == 404 and body["code"] == "not_found"
    assert http(stack, "DELETE", "/v1/sessions/cleanup") == (204, None)


async def test_http_api_rejects_bad_input_clearly(stack: MediaStack) -> None:
    status, body = http(stack, "POST", "/v1/sessions", b"{not json")
    assert status == 400 and body["code"] == "invalid_request"
    status, body = http(stack, "POST", "/v1/sessions", b'{"trace_id": "x"}')
    assert status == 400 and "call_id" in body["message"]
    status, body = http(stack, "POST", "/v1/sessions/none/signal", b'{"method": "produce"}')
    assert status == 404 and body["code"] == "not_found"
    async with aiohttp.ClientSession(headers=stack.api_headers) as http_client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http_client.ws_connect(f"{stack.controller_url}/v1/sessions/none/events")
        assert refused.value.status == 404


async def test_the_api_refuses_requests_without_the_secret(stack: MediaStack) -> None:
    for method, path in (
        ("GET", "/v1/stats"),
        ("POST", "/v1/sessions"),
        ("DELETE", "/v1/sessions/x"),
        ("GET", "/v1/sessions/x/stats"),
        ("POST", "/v1/sessions/x/signal"),
    ):
        for secret in ("", "wrong-secret"):
            status, body = http(stack, method, path, b"{}", secret=secret)
            assert (status, body["code"]) == (401, "unauthorized"), (method, path, secret)
    async with aiohttp.ClientSession() as http_client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http_client.ws_connect(f"{stack.controller_url}/v1/sessions/x/events")
        assert refused.value.status == 401
    assert http(stack, "GET", "/healthz", secret="")[0] == 200


async def test_open_is_idempotent_and_events_socket_is_exclusive(
    client: MediaClient, stack: MediaStack
) -> None:
    first = await client.open_session("twice", "5" * 32)
    try:
        status, body = http(stack, "POST", "/v1/sessions", b'{"call_id": "twice"}')
        assert status == 201 and body["bot_producer_id"] == first.bot_producer_id
        with pytest.raises(MediaRequestError) as refused:  # the events WebSocket is taken: 409
            await client.open_session("twice", "5" * 32)
        assert refused.value.code == "conflict"
        assert await client.healthy()
        await first.signal("createPlainTransport", {"comedia": True})  # the first one still works
    finally:
        await first.close()


async def test_metrics_and_health(stack: MediaStack) -> None:
    assert http(stack, "GET", "/healthz")[0] == 200
    assert http(stack, "GET", "/readyz")[0] == 200
    text = await asyncio.to_thread(stack.text, "/metrics")
    names = (
        "sessions_active",
        "playbacks_total",
        "barge_ins_total",
        "failures_total",
        "service_retries_total",
    )
    for name in names:
        assert f"media_{name}" in text


async def test_unreachable_controller_is_media_unavailable() -> None:
    client = MediaClient("http://127.0.0.1:9", request_timeout=1.0)
    try:
        assert not await client.healthy()
        with pytest.raises(MediaUnavailable):
            await client.open_session("nowhere", "6" * 32)
    finally:
        await client.aclose()


async def test_the_controllers_own_transports_are_foreign_to_the_client(client: MediaClient) -> None:
    session = await client.open_session("own-legs", "7a" * 16)
    try:
        controller_transports = (await session.stats())["transports"]  # the bot's leg and the tap
        assert len(controller_transports) == 2
        for transport_id in controller_transports:
            with pytest.raises(MediaRequestError) as refused:
                await session.signal("closeTransport", {"transport_id": transport_id})
            assert refused.value.code == "foreign_object", transport_id
        assert (await session.stats())["transports"] == controller_transports
    finally:
        await session.close()
