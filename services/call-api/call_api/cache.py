"""RedisCacheManager: the call-api's only door to Redis.

Redis is a cache here, never a dependency: every method catches every failure (connection refused,
timeout, reset, READONLY, OOM, ...), logs it (rate-limited) and returns None — the caller never sees
an exception. Timeouts are short and a small circuit breaker skips Redis entirely for
`breaker_seconds` after a failure, so a dead Redis costs microseconds per call, not a timeout."""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)


def _set_degraded_metric(degraded: bool) -> None:
    from call_api.metrics import REDIS_DEGRADED  # lazily: keeps this module free of the web stack

    REDIS_DEGRADED.set(1 if degraded else 0)


T = TypeVar("T")

# KEYS[1] is deleted only while it still holds ARGV[1]: a call never frees a claim it does not own.
_DELETE_IF_VALUE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _ttl_ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


class RedisCacheManager:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.3,
        breaker_seconds: float = 1.0,
        warn_interval: float = 10.0,
        max_connections: int = 64,
        pool_timeout: float = 1.0,
    ) -> None:
        self.url = url
        self._timeout = timeout
        # Bound of a whole command: waiting for a pooled connection, connecting, one retry.
        self._command_timeout = pool_timeout + 3 * timeout
        self._breaker_seconds = breaker_seconds
        self._warn_interval = warn_interval
        # A blocking pool: a burst of calls waits (briefly) for a free connection instead of failing
        # with "too many connections". One immediate retry hides a pooled connection that went stale
        # while Redis restarted; against a dead Redis it costs one more refused connect, i.e. nothing.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._client: Redis = Redis(connection_pool=pool)
        self.degraded = False
        self._skip_until = 0.0
        self._degraded_since = 0.0
        self._last_warning = 0.0
        self._suppressed = 0

    # --- bytes and JSON -----------------------------------------------------

    async def get_bytes(self, key: str) -> bytes | None:
        """The value, or None if the key is missing or Redis is unavailable."""

        async def get() -> bytes | None:
            return cast(bytes | None, await self._client.get(key))

        return await self._run("get", key, get)

    async def set_bytes(self, key: str, value: bytes | str, ttl: float | None = None) -> bool | None:
        px = _ttl_ms(ttl) if ttl is not None else None

        async def set_value() -> bool:
            return bool(await self._client.set(key, value, px=px))

        return await self._run("set", key, set_value)

    async def get_json(self, key: str) -> Any | None:
        raw = await self.get_bytes(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.warning("cache value is not JSON; ignored", extra={"key": key})
            return None

    async def set_json(self, key: str, value: Any, ttl: float | None = None) -> bool | None:
        return await self.set_bytes(key, json.dumps(value, separators=(",", ":")), ttl)

    # --- keys ---------------------------------------------------------------

    async def delete(self, key: str) -> bool | None:
        """True if the key existed, False if not, None if Redis is unavailable."""
        deleted = await self._run("delete", key, lambda: self._client.delete(key))
        return None if deleted is None else bool(deleted)

    async def set_if_absent(self, key: str, value: bytes | str, ttl: float) -> bool | None:
        """SET NX PX: True if set, False if the key already exists, None if Redis is unavailable."""

        async def set_nx() -> bool:
            # redis answers nil (None) when the key exists; turn it into False so None means "failed".
            return bool(await self._client.set(key, value, nx=True, px=_ttl_ms(ttl)))

        return await self._run("set_nx", key, set_nx)

    async def delete_if_value(self, key: str, value: bytes | str) -> bool | None:
        """Delete the key only while it holds `value` (compare-and-delete, atomic in Redis)."""
        deleted = await self._run(
            "delete_if_value", key, lambda: self._client.eval(_DELETE_IF_VALUE, 1, key, value)
        )
        return None if deleted is None else bool(deleted)

    async def expire(self, key: str, ttl: float) -> bool | None:
        """Refresh a TTL: True if the key exists, False if not, None if Redis is unavailable."""
        refreshed = await self._run("expire", key, lambda: self._client.pexpire(key, _ttl_ms(ttl)))
        return None if refreshed is None else bool(refreshed)

    async def ping(self) -> bool:
        return bool(await self._run("ping", "", lambda: self._client.ping()))

    async def aclose(self) -> None:
        try:
            await self._client.aclose(close_connection_pool=True)
        except Exception:  # closing a client of a dead Redis may fail; nothing is lost
            log.debug("redis client close failed", exc_info=True)

    # --- failure handling ---------------------------------------------------

    async def _run(self, op: str, key: str, command: Callable[[], Awaitable[T]]) -> T | None:
        now = time.monotonic()
        if now < self._skip_until:
            self._suppressed += 1
            return None
        try:
            async with asyncio.timeout(self._command_timeout):
                result = await command()
        except Exception as exc:
            self._failed(op, key, exc)
            return None
        if self.degraded:
            self._recovered()
        return result

    def _failed(self, op: str, key: str, exc: Exception) -> None:
        now = time.monotonic()
        self._skip_until = now + self._breaker_seconds
        error = f"{type(exc).__name__}: {exc}"
        if not self.degraded:
            self.degraded = True
            _set_degraded_metric(True)
            self._degraded_since = now
            self._last_warning = now
            self._suppressed = 0
            log.warning("redis unavailable; cache degraded", extra={"op": op, "key": key, "error": error})
        elif now - self._last_warning >= self._warn_interval:
            log.warning(
                "redis still unavailable",
                extra={"op": op, "key": key, "error": error, "suppressed": self._suppressed},
            )
            self._last_warning = now
            self._suppressed = 0
        else:
            self._suppressed += 1

    def _recovered(self) -> None:
        down_for = time.monotonic() - self._degraded_since
        self.degraded = False
        _set_degraded_metric(False)
        self._skip_until = 0.0
        log.warning("redis recovered; cache back", extra={"down_seconds": round(down_for, 3)})
