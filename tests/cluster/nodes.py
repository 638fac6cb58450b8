"""Two (or more) media nodes on this machine: each a mediasoup service and a media-controller on
its own ports, all registered in one Redis; call-api places calls from that registry."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from voicebot_protocol.media_registry import REGISTRY_INDEX, ControllerRecord, registry_key
from voicebot_stack.media import MediaStack, start_media_stack
from voicebot_stack.procs import wait_until
from voicebot_stack.redis import RedisServer

HEARTBEAT_SECONDS = 0.5
TTL_SECONDS = 2.0


@dataclass
class Node:
    name: str
    media: MediaStack

    @property
    def url(self) -> str:
        return self.media.controller_url

    def call_ids(self) -> set[str]:
        """The calls this node's mediasoup service holds (named <gateway>~<call_id>)."""
        return {str(s["call_id"]).rsplit("~", 1)[-1] for s in self.media.get("/v1/stats")["sessions"]}

    def kill(self) -> None:
        """SIGKILL the node: its controller and its mediasoup service with the workers."""
        for proc in (self.media.controller, self.media.service):
            if proc.alive():
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in (self.media.controller, self.media.service):
            assert proc.popen is not None
            proc.popen.wait(10)

    def stop(self) -> None:
        self.media.stop()


def start_node(
    tmp_path: Path, name: str, redis_url: str, *, max_sessions: int = 50, drain_grace: float = 0.0
) -> Node:
    media = start_media_stack(
        tmp_path / name,
        controller_env={
            "MEDIA_CONTROLLER_REDIS_URL": redis_url,
            "MEDIA_CONTROLLER_CONTROLLER_ID": name,
            "MEDIA_CONTROLLER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "MEDIA_CONTROLLER_REGISTRY_TTL_SECONDS": str(TTL_SECONDS),
            "MEDIA_CONTROLLER_MAX_SESSIONS": str(max_sessions),
            "MEDIA_CONTROLLER_DRAIN_GRACE_SECONDS": str(drain_grace),
        },
    )
    return Node(name, media)


def records(server: RedisServer) -> dict[str, ControllerRecord]:
    client = redis.Redis.from_url(server.url)
    try:
        ids = sorted(m.decode() for m in client.smembers(REGISTRY_INDEX))
        found = {}
        for controller_id in ids:
            value = client.get(registry_key(controller_id))
            if value is not None:
                found[controller_id] = ControllerRecord.model_validate(json.loads(value))
        return found
    finally:
        client.close()


def forget_all(server: RedisServer) -> None:
    """Between tests: no record of an earlier test's nodes is left for its TTL."""
    client = redis.Redis.from_url(server.url)
    try:
        for member in client.smembers(REGISTRY_INDEX):
            client.delete(registry_key(member.decode()))
        client.delete(REGISTRY_INDEX)
    finally:
        client.close()


def wait_registered(server: RedisServer, *nodes: Node, timeout: float = 20.0) -> None:
    names = {node.name for node in nodes}
    wait_until(lambda: names <= set(records(server)), timeout, f"{sorted(names)} in the registry")


def wait_record(
    server: RedisServer,
    name: str,
    what: str,
    predicate: Callable[[ControllerRecord | None], bool],
    timeout: float = 20.0,
) -> None:
    wait_until(lambda: predicate(records(server).get(name)), timeout, what, interval=0.05)


def wait_counted(server: RedisServer, at_least: int, timeout: float = 20.0) -> None:
    """Until the registry's records count at least this many sessions in all."""
    wait_until(
        lambda: sum(r.sessions for r in records(server).values()) >= at_least,
        timeout,
        f"the registry to count {at_least} calls",
        interval=0.05,
    )
