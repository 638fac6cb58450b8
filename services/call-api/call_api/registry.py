"""The calls of this worker process, the cluster-wide claim of each call_id, and the drain flag.

A call_id is claimed with SET NX PX on `call-api:active-call:<call_id>` (so a duplicate is refused
by every worker of every instance) and kept alive by `refresh` while the call lives. When Redis is
down the claim degrades to this process's own table: duplicates on the same worker are still caught."""

import asyncio
import logging
import os
import secrets
from typing import Protocol

from voicebot_protocol import EndReason
from voicebot_tracing import heap

from call_api.cache import RedisCacheManager

log = logging.getLogger(__name__)

ACTIVE_CALL_KEY = "call-api:active-call:{call_id}"


def active_call_key(call_id: str) -> str:
    return ACTIVE_CALL_KEY.format(call_id=call_id)


class EndableCall(Protocol):
    def request_end(self, reason: EndReason, message: str) -> None: ...


class CallRegistry:
    def __init__(self, cache: RedisCacheManager, *, ttl_seconds: float, instance: str) -> None:
        self.cache = cache
        self.ttl_seconds = ttl_seconds
        self.instance = instance
        self.draining = False
        self._calls: dict[str, tuple[EndableCall, str]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def new_token(self) -> str:
        """The value stored under a claimed key: who holds the call (and a nonce, so only it frees it)."""
        return f"{self.instance}/{os.getpid()}/{secrets.token_hex(6)}"

    async def claim(self, call_id: str, call: EndableCall, token: str) -> bool:
        """False if the call_id is already active here or anywhere (Redis)."""
        if call_id in self._calls:
            return False
        # Reserve locally before awaiting Redis: a concurrent duplicate on this worker sees it at once.
        self._calls[call_id] = (call, token)
        self._idle.clear()
        claimed = await self.cache.set_if_absent(active_call_key(call_id), token, self.ttl_seconds)
        if claimed is False:
            self._forget(call_id)
            return False
        if claimed is None:
            log.info("call_id claimed on this worker only (redis unavailable)")
        return True

    async def refresh(self, call_id: str, token: str) -> None:
        """Keep the claim alive; re-create it if Redis lost it (restart, or it was down at claim time)."""
        key = active_call_key(call_id)
        exists = await self.cache.expire(key, self.ttl_seconds)
        if exists is False:
            await self.cache.set_if_absent(key, token, self.ttl_seconds)

    async def release(self, call_id: str, token: str) -> None:
        entry = self._calls.get(call_id)
        if entry is not None and entry[1] == token:
            self._forget(call_id)
        await self.cache.delete_if_value(active_call_key(call_id), token)

    def _forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        if not self._calls:
            self._idle.set()
            heap.collect_and_trim_soon(self._idle.is_set)  # a burst's garbage goes back to the kernel

    # --- drain ----------------------------------------------------------------

    def start_draining(self) -> None:
        self.draining = True

    def end_all(self, reason: EndReason, message: str) -> int:
        for call, _token in list(self._calls.values()):
            call.request_end(reason, message)
        return len(self._calls)

    async def wait_idle(self, timeout: float) -> bool:
        """True once no call is left on this worker, False if `timeout` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True
