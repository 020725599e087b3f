"""API keys and the per-key request rate limit.

Keys are never stored: the service holds sha256 hex digests and compares the digest of the
presented key against every configured digest with `hmac.compare_digest`, without stopping at
the first match, so the time taken does not depend on which digest (if any) matched. A key is
known internally by the first 12 hex characters of its digest (its "key id"), which is what
jobs, logs and metrics record.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections.abc import Iterable

_HEX64 = re.compile(r"[0-9a-f]{64}")


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def key_id(key_hash: str) -> str:
    return key_hash[:12]


class KeyRing:
    """The set of accepted API key digests."""

    def __init__(self, key_hashes: Iterable[str]):
        hashes = []
        for h in key_hashes:
            h = h.strip().lower()
            if not _HEX64.fullmatch(h):
                raise ValueError("an API key hash must be 64 hex characters (sha256)")
            hashes.append(h)
        self._hashes = tuple(hashes)

    def __len__(self) -> int:
        return len(self._hashes)

    def identify(self, presented_key: str | None) -> str | None:
        """The key id of a valid key, or None."""
        if not presented_key:
            return None
        digest = hash_key(presented_key)
        match = None
        for h in self._hashes:
            if hmac.compare_digest(digest, h):
                match = h
        return key_id(match) if match else None


class KeyRateLimiter:
    """A token bucket per key: `rate_per_s` sustained, `burst` at once.

    Hand-rolled (20 lines) because the answer must include how long to wait (Retry-After),
    which pyrate-limiter's try_acquire does not report.
    """

    def __init__(self, rate_per_s: float, burst: int | None = None):
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        self.rate_per_s = rate_per_s
        self.burst = max(1, burst if burst is not None else math.ceil(rate_per_s))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at monotonic s)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token; returns 0.0 if allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s
