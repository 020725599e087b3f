"""A process-wide rate limit per named service, over pyrate-limiter's bucket.

The limiter hands out one permit per attempt (retries included). Permits are spaced evenly
(`1/rate_per_s` apart), which works for any rate, including below one per second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pyrate_limiter import InMemoryBucket, Rate, RateItem

from blueprint_pipeline.errors import TransientError

_LEAK_EVERY = 256  # drop permits older than the window every N admissions (bounded memory)


class RateLimitWaitError(TransientError):
    """No permit could be had before the call's deadline."""


def rate_for(rate_per_s: float) -> Rate:
    """pyrate-limiter's Rate for `rate_per_s`: one permit per interval, or a batch per 100 ms
    above 1000/s (intervals are whole milliseconds)."""
    if rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
    interval_ms = 1000.0 / rate_per_s
    if interval_ms >= 1.0:
        return Rate(1, round(interval_ms))
    return Rate(max(1, round(rate_per_s / 10)), 100)


class RateLimiter:
    """Blocks each caller until the bucket admits it; thread-safe."""

    def __init__(self, name: str, rate_per_s: float, *, sleep: Callable[[float], None] = time.sleep):
        self.name = name
        self.rate_per_s = rate_per_s
        self._bucket = InMemoryBucket([rate_for(rate_per_s)])
        self._sleep = sleep
        self._lock = threading.Lock()
        self._admitted = 0

    def acquire(self, deadline_at: float | None = None,
                clock: Callable[[], float] = time.monotonic) -> None:
        """Wait for a permit; raise RateLimitWaitError if none comes before `deadline_at`.

        pyrate-limiter's own blocking wait advances a permit's timestamp by the planned sleep,
        not by the time that really passed, so an oversleeping thread could be admitted early;
        this loop takes a fresh timestamp for every try instead.
        """
        while True:
            with self._lock:
                item = RateItem(self.name, self._bucket.now())
                if self._bucket.put(item):
                    self._admitted += 1
                    if self._admitted % _LEAK_EVERY == 0:
                        self._bucket.leak(item.timestamp)
                    return
                wait_ms = self._bucket.waiting(item)
            wait_s = max(int(wait_ms), 1) / 1000.0
            if deadline_at is not None and clock() + wait_s > deadline_at:
                raise RateLimitWaitError(
                    f"{self.name}: no request slot at {self.rate_per_s:g}/s before the call's deadline")
            self._sleep(wait_s)


_registry: dict[tuple[str, float], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(name: str, rate_per_s: float) -> RateLimiter:
    """The one limiter of this process for (`name`, `rate_per_s`), shared by all its threads."""
    with _registry_lock:
        limiter = _registry.get((name, rate_per_s))
        if limiter is None:
            limiter = _registry[(name, rate_per_s)] = RateLimiter(name, rate_per_s)
        return limiter
