"""Per-key rate limits: a token bucket per API key, in this process (each worker has its own)."""
from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, burst: int = 0, clock=time.monotonic):
        self.default = per_minute
        self.burst = burst
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}   # key id -> (tokens, updated)
        self._lock = threading.Lock()

    def check(self, key_id: int, per_minute: int | None = None) -> float:
        """Take one token for this key. Returns 0 when allowed, else the seconds to wait."""
        rate = self.default if per_minute is None else per_minute
        if rate <= 0:
            return 0.0
        capacity = float(self.burst or rate)
        per_second = rate / 60.0
        now = self.clock()
        with self._lock:
            tokens, updated = self._buckets.get(key_id, (capacity, now))
            tokens = min(capacity, tokens + (now - updated) * per_second)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / per_second


def retry_after(wait: float) -> str:
    """Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
