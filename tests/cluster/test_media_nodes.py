"""Two media nodes on this machine (each a mediasoup service and a media-controller on its own
ports), one Redis, one call-api placing calls from the controller registry: calls spread over both,
a node killed ends only its own calls, a draining node finishes its calls while new ones go to the
other, and a full cluster refuses a call with `capacity` while the admitted calls keep their audio.

VOICEBOT_CLUSTER_CALLS (default 8) sets how many calls the spread test places (the issue's 20 is
`VOICEBOT_CLUSTER_CALLS=20`)."""

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from voicebot_callsim.call import CallRefused, GatewayCall
from voicebot_mediaclient import MediaCapacity, MediaClient
from voicebot_protocol import EndReason, FailureCode
from voicebot_stack.callapi import CallApiServer
from voicebot_stack.redis import RedisServer

from tests.cluster.nodes import Node, start_node, wait_counted, wait_record, wait_registered
from tests.support.telephony import SymmetricGateway, connect_symmetric

CALLS = int(os.environ.get("VOICEBOT_CLUSTER_CALLS", "8"))


async def start_nodes(tmp_path: Path, redis: RedisServer, **settings: float) -> tuple[Node, Node]:
    a, b = await asyncio.gather(
        asyncio.to_thread(start_node, tmp_path, "node-a", redis.url, **settings),  # type: ignore[arg-type]
        asyncio.to_thread(start_node, tmp_path, "node-b", redis.url, **settings),  # type: ignore[arg-type]
    )
    await asyncio.to_thread(wait_registered, redis, a, b)
    return a, b


def new_call(api: CallApiServer, prefix: str) -> GatewayCall:
    return GatewayCall(api.ws_url, f"{prefix}-{uuid.uuid4().hex[:8]}")


async def place(api: CallApiServer, redis: RedisServer, prefix: str, count: int) -> list[GatewayCall]:
    """`count` calls one after another; each waits until the registry counts the one before, so
    every placement sees the cluster's real load."""
    calls = []
    for _ in range(count):
        call = new_call(api, prefix)
        await call.start(open_timeout=20)
        calls.append(call)
        await asyncio.to_thread(wait_counted, redis, len(calls))
    return calls


async def close_all(calls: list[GatewayCall]) -> None:
    await asyncio.gather(*(call.terminate() for call in calls), return_exceptions=True)


async def test_calls_spread_and_a_killed_node_ends_only_its_own(
    tmp_path: Path, cluster_api: CallApiServer, fresh_registry: RedisServer
) -> None:
    a, b = await start_nodes(tmp_path, fresh_registry)
    calls: list[GatewayCall] = []
    try:
        calls = await place(cluster_api, fresh_registry, "spread", CALLS)
        on_a, on_b = a.call_ids(), b.call_ids()
        assert on_a | on_b == {call.call_id for call in calls} and not on_a & on_b
        assert abs(len(on_a) - len(on_b)) <= 1, (on_a, on_b)  # the least-loaded node, each time

        a.kill()
        victims = [call for call in calls if call.call_id in on_a]
        survivors = [call for call in calls if call.call_id in on_b]
        for call in victims:
            ended = await call.wait_event("call_ended", 20)
            assert ended.message["code"] == EndReason.MEDIA_FAILURE, ended.message
        for call in survivors:  # still served, by their own node: a signalling round trip
            created = await call.signal("createPlainTransport", {"comedia": False}, timeout=20)
            assert created["transport_id"]
            assert not call.closed.is_set()

        later = [new_call(cluster_api, "after-kill") for _ in range(3)]
        for call in later:
            await call.start(open_timeout=20)
        calls += later
        assert {call.call_id for call in later} <= b.call_ids()
    finally:
        await close_all(calls)
        await asyncio.to_thread(a.stop)
        await asyncio.to_thread(b.stop)


async def test_a_draining_node_finishes_its_calls_and_takes_no_new_ones(
    tmp_path: Path, cluster_api: CallApiServer, fresh_registry: RedisServer
) -> None:
    a, b = await start_nodes(tmp_path, fresh_registry, drain_grace=60.0)
    calls: list[GatewayCall] = []
    try:
        calls = await place(cluster_api, fresh_registry, "drain", 2)
        (on_a,) = a.call_ids()
        (kept,) = [call for call in calls if call.call_id == on_a]

        a.media.controller.signal(15)  # SIGTERM: drain
        await asyncio.to_thread(
            wait_record, fresh_registry, "node-a", "node-a draining", lambda r: r is not None and r.draining
        )
        direct = MediaClient(a.url, secret=a.media.api_secret)
        try:
            with pytest.raises(MediaCapacity) as refusal:
                await direct.open_session("direct-while-draining", "3" * 32)
            assert refusal.value.code == "draining"
        finally:
            await direct.aclose()
        later = [new_call(cluster_api, "while-draining") for _ in range(2)]
        for call in later:
            await call.start(open_timeout=20)
        calls += later
        assert {call.call_id for call in later} <= b.call_ids()

        # the draining node still serves its call ...
        created = await kept.signal("createPlainTransport", {"comedia": False}, timeout=20)
        assert created["transport_id"] and a.media.controller.alive()
        # ... and exits on its own once that call has ended
        await kept.terminate()
        assert a.media.controller.popen is not None
        assert await asyncio.to_thread(a.media.controller.popen.wait, 30) == 0
        await asyncio.to_thread(
            wait_record, fresh_registry, "node-a", "node-a out of the registry", lambda r: r is None
        )
        for call in calls:
            if call is not kept:
                assert not call.closed.is_set(), call.call_id
    finally:
        await close_all(calls)
        await asyncio.to_thread(a.stop)
        await asyncio.to_thread(b.stop)


async def test_a_full_cluster_refuses_with_capacity_and_the_admitted_calls_keep_audio(
    tmp_path: Path, cluster_api: CallApiServer, fresh_registry: RedisServer
) -> None:
    a, b = await start_nodes(tmp_path, fresh_registry, max_sessions=1)
    calls: list[GatewayCall] = []
    gateways: list[SymmetricGateway] = []
    try:
        calls = await place(cluster_api, fresh_registry, "admitted", 2)
        assert len(a.call_ids()) == len(b.call_ids()) == 1

        refused = new_call(cluster_api, "one-too-many")
        with pytest.raises(CallRefused) as refusal:
            await refused.start(open_timeout=20)
        await refused.aclose()
        assert refusal.value.message["code"] == FailureCode.CAPACITY, refusal.value.message

        # the admitted calls set up their media only now, and hear the greeting
        for call in calls:
            gateway = await SymmetricGateway.open("pcmu")
            gateways.append(gateway)
            await connect_symmetric(call.signal, gateway)
            await gateway.send_silence(0.2)
        for call, gateway in zip(calls, gateways, strict=True):
            await call.wait_event("play_audio", 30)
            await gateway.wait_packets(50, 30)  # a second of the bot's voice, on each call
            sequences = [packet.sequence for packet in gateway.packets[:50]]
            assert sequences == [(sequences[0] + i) & 0xFFFF for i in range(50)], "packets lost"
            assert not call.closed.is_set()
    finally:
        for gateway in gateways:
            gateway.close()
        await close_all(calls)
        await asyncio.to_thread(a.stop)
        await asyncio.to_thread(b.stop)
