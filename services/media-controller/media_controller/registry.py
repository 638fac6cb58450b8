"""This controller's record in the cluster registry (voicebot_protocol.media_registry).

A heartbeat rewrites the record with an expiry every MEDIA_CONTROLLER_HEARTBEAT_SECONDS; if the
controller dies its key expires and call-api stops placing calls on it. Redis being down never stops
the controller: it keeps serving its calls, logs the outage once, and registers again when Redis is
back. Every change of the session count is published at once (call-api's choice stays fresh under a
burst of calls). On a clean stop the record is deleted at once."""

import asyncio
import logging
import socket
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from voicebot_protocol.media_registry import REGISTRY_INDEX, ControllerRecord, registry_key

from media_controller.settings import Settings

log = logging.getLogger(__name__)

RecordSource = Callable[[], ControllerRecord]


def advertised_url(settings: Settings, port: int) -> str:
    if settings.cluster.advertise_url:
        return settings.cluster.advertise_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostbyname(socket.gethostname())
    return f"http://{host}:{port}"


def controller_id_of(settings: Settings, port: int) -> str:
    return settings.cluster.controller_id or f"{socket.gethostname()}:{port}"


class Registration:
    """Keeps one record alive in Redis until stop()."""

    def __init__(self, redis_url: str, record: RecordSource, *, heartbeat: float, ttl: float) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._record = record
        self._heartbeat = heartbeat
        self._ttl_ms = int(ttl * 1000)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._registered: bool | None = None  # None: not tried yet

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="controller-registry")

    def publish_now(self) -> None:
        """Rewrite the record without waiting for the next heartbeat (sessions or draining changed);
        changes that come together are written once."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._write()
            except Exception:  # a bug here must not end the heartbeat for good
                log.exception("writing the registry record failed")
            self._wake.clear()
            try:
                async with asyncio.timeout(self._heartbeat):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _write(self) -> None:
        record = self._record()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(registry_key(record.controller_id), record.to_json(), px=self._ttl_ms)
                pipe.sadd(REGISTRY_INDEX, record.controller_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            if self._registered is not False:
                log.warning(
                    "controller registry unavailable; serving on, unregistered",
                    extra={"error": repr(exc)[:300]},
                )
            self._registered = False
            return
        if self._registered is not True:
            log.info(
                "registered in the controller registry",
                extra={"controller_id": record.controller_id, "url": record.url},
            )
        self._registered = True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            controller_id = self._record().controller_id
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(registry_key(controller_id))
                pipe.srem(REGISTRY_INDEX, controller_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("could not remove the registry record", extra={"error": repr(exc)[:300]})
        await self._redis.aclose()
