"""Which media-controller a new call lives on (docs/architecture.md, "Many media nodes").

registry: the least-loaded live controller of the Redis registry that is not draining and has room
(voicebot_protocol.media_registry); the calls this worker is opening right now count too, so a burst
spreads before the next heartbeat. When Redis cannot be read, the configured controllers
(CALL_API_MEDIA_CONTROLLER_URL) are used instead: placement degrades, it never stops. An empty
registry, or every controller full or draining, refuses the call (`capacity`).
static: the configured controllers, in turn.
A controller that refuses (full, draining) or cannot be reached is skipped for the next one; one that
could not be reached goes to the back of the list for a while (it may still be in the registry until
its record expires)."""

import itertools
import logging
import random
import time
from collections import Counter

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from voicebot_mediaclient import MediaCapacity, MediaClient, MediaSession, MediaUnavailable
from voicebot_protocol.media import CallCodec
from voicebot_protocol.media_registry import REGISTRY_INDEX, ControllerRecord, registry_key

from call_api.settings import MediaSettings

log = logging.getLogger(__name__)

UNREACHABLE_PENALTY_SECONDS = 10.0  # longer than a registry record lives after its controller died


class MediaPlacement:
    def __init__(self, settings: MediaSettings, redis_url: str) -> None:
        self.settings = settings
        self.static_urls = settings.media_controller_urls
        self._turn = itertools.count()
        self._opening: Counter[str] = Counter()
        self._unreachable_until: dict[str, float] = {}
        self._redis: Redis | None = None
        if settings.media_discovery == "registry":
            timeout = settings.media_registry_timeout
            self._redis = Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)

    async def open_session(
        self, client: MediaClient, call_id: str, trace_id: str, codec: CallCodec
    ) -> MediaSession:
        """Raises MediaCapacity (no controller has room) or MediaUnavailable (none reachable)."""
        refused: MediaCapacity | None = None
        unavailable: MediaUnavailable | None = None
        for url in await self.candidates():
            self._opening[url] += 1
            try:
                session = await client.open_session(call_id, trace_id, codec, base_url=url)
            except MediaCapacity as exc:
                refused = exc
            except MediaUnavailable as exc:
                unavailable = exc
                self._unreachable_until[url] = time.monotonic() + UNREACHABLE_PENALTY_SECONDS
                log.warning("media-controller unavailable; trying the next", extra={"controller": url})
            else:
                self._unreachable_until.pop(url, None)
                return session
            finally:
                self._opening[url] -= 1
                if self._opening[url] <= 0:
                    del self._opening[url]
        if refused is not None or unavailable is None:
            raise refused or MediaCapacity("capacity", "no live media-controller has room")
        raise unavailable

    async def candidates(self) -> list[str]:
        """The controllers to try for a new call, best first."""
        records = await self._registry() if self._redis is not None else None
        if records is None:
            start = next(self._turn) % max(len(self.static_urls), 1)
            urls = self.static_urls[start:] + self.static_urls[:start]
        else:
            urls = self._by_load(records)
        now = time.monotonic()
        return sorted(urls, key=lambda url: self._unreachable_until.get(url, 0.0) > now)

    def _by_load(self, records: list[ControllerRecord]) -> list[str]:
        def sessions(record: ControllerRecord) -> int:
            return record.sessions + self._opening[record.url.rstrip("/")]

        def load(record: ControllerRecord) -> tuple[float, float]:
            return (sessions(record) / record.capacity, random.random())

        open_ = [r for r in records if not r.draining and sessions(r) < r.capacity]
        return [record.url.rstrip("/") for record in sorted(open_, key=load)]

    async def _registry(self) -> list[ControllerRecord] | None:
        """Every live controller's record; None when Redis cannot be read (use the static list)."""
        assert self._redis is not None
        try:
            members = await self._redis.smembers(REGISTRY_INDEX)
            ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
            values = await self._redis.mget([registry_key(i) for i in ids]) if ids else []
            expired = [i for i, value in zip(ids, values, strict=True) if value is None]
            if expired:
                await self._redis.srem(REGISTRY_INDEX, *expired)
        except (RedisError, OSError) as exc:
            log.warning(
                "controller registry unreadable; using the configured controllers",
                extra={"error": repr(exc)[:300]},
            )
            return None
        records = []
        for value in values:
            if value is None:
                continue
            try:
                records.append(ControllerRecord.model_validate_json(value))
            except ValidationError as exc:
                log.warning("ignoring an invalid controller record", extra={"error": str(exc)[:300]})
        return records

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
