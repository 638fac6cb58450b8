"""A token bucket: `rate` events per second on average, bursts up to `burst`. One per call for its
signalling requests (excess answered `rate_limited`) and one for its caller RTP packets (excess
dropped before any decoding), so one hostile call cannot take the others' CPU."""

import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)
    refused: int = 0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def allow(self, now: float | None = None, cost: float = 1.0) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        self.refused += 1
        return False
