"""Single use of call tokens: a token's nonce is spent once, cluster-wide through Redis (SET NX
with the token's remaining lifetime), or in this process alone while Redis is down (degraded: a
token could then be used once per worker until it expires, minutes at most)."""

import time
from typing import Protocol

SPENT_KEY = "call-api:spent-token:{nonce}"
LOCAL_LIMIT = 100_000  # a flood of distinct tokens cannot grow this table without bound


class NonceStore(Protocol):
    async def set_if_absent(self, key: str, value: bytes | str, ttl: float) -> bool | None: ...


class SpentTokens:
    def __init__(self, store: NonceStore | None) -> None:
        self.store = store
        self._local: dict[str, float] = {}  # nonce → expiry (unix seconds)

    async def spend(self, nonce: str, expires_at: float) -> bool:
        """True the first time a nonce is spent, False on every later attempt."""
        now = time.time()
        if not self._spend_locally(nonce, expires_at, now):
            return False
        if self.store is None:
            return True
        claimed = await self.store.set_if_absent(
            SPENT_KEY.format(nonce=nonce), "1", max(expires_at - now, 1.0)
        )
        return claimed is not False  # None: Redis unavailable, the local table decided

    def _spend_locally(self, nonce: str, expires_at: float, now: float) -> bool:
        if len(self._local) >= LOCAL_LIMIT:
            self._local = {n: exp for n, exp in self._local.items() if exp > now}
            if len(self._local) >= LOCAL_LIMIT:
                return False  # refuse rather than forget a spent token
        if nonce in self._local:
            return False
        self._local[nonce] = expires_at
        return True
