"""Circuit breaker: opens after N consecutive transient failures, fails fast while open, then
admits exactly one probe call (half-open) whose outcome closes or reopens it.

State, counters and listeners are pybreaker's (`CircuitBreaker` with a memory storage). We do
not use `pybreaker.CircuitBreaker.call`: it holds one lock for the whole guarded call, which
serialises every concurrent request even while the circuit is closed, and it times the open
state with the wall clock, which tests cannot control. The gate below keeps the lock only
around state changes and admits a single probe among concurrent callers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pybreaker

from blueprint_pipeline.resilience.errors import CircuitOpenError

CLOSED = pybreaker.STATE_CLOSED
OPEN = pybreaker.STATE_OPEN
HALF_OPEN = pybreaker.STATE_HALF_OPEN


class CircuitBreaker:
    def __init__(self, name: str, *, failure_threshold: int = 5, recovery_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 listeners: list[pybreaker.CircuitBreakerListener] | None = None):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.name = name
        self.recovery_s = recovery_s
        self._clock = clock
        self._storage = pybreaker.CircuitMemoryStorage(CLOSED)
        self._cb = pybreaker.CircuitBreaker(fail_max=failure_threshold, reset_timeout=recovery_s,
                                            state_storage=self._storage, name=name,
                                            listeners=listeners or [])
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        return self._cb.current_state

    @property
    def failure_count(self) -> int:
        return self._storage.counter

    def before_attempt(self) -> bool:
        """Admit an attempt or raise CircuitOpenError; returns True if it is the probe."""
        with self._lock:
            state = self._cb.current_state
            if state == OPEN:
                assert self._opened_at is not None
                left_s = self._opened_at + self.recovery_s - self._clock()
                if left_s > 0:
                    raise CircuitOpenError(
                        f"{self.name}: circuit breaker open after {self._cb.fail_max} consecutive "
                        f"transient failures; failing fast for another {left_s:.1f} s", left_s)
                self._cb.half_open()
                state = HALF_OPEN
            if state == HALF_OPEN:
                if self._probe_in_flight:
                    raise CircuitOpenError(
                        f"{self.name}: circuit breaker half-open and its probe call is in flight; "
                        "failing fast", 0.0)
                self._probe_in_flight = True
                return True
            return False

    def record_success(self, probe: bool) -> None:
        with self._lock:
            self._storage.reset_counter()
            if probe:
                self._probe_in_flight = False
                self._cb.close()

    def record_transient_failure(self, probe: bool) -> None:
        with self._lock:
            self._storage.increment_counter()
            if probe:
                self._probe_in_flight = False
                self._open()
            elif self._cb.current_state == CLOSED and self._storage.counter >= self._cb.fail_max:
                self._open()

    def record_not_counted(self, probe: bool) -> None:
        """A non-transient outcome (e.g. HTTP 404): the service answered, so a probe closes the
        circuit; the consecutive-failure count is left as it was."""
        with self._lock:
            if probe:
                self._probe_in_flight = False
                self._cb.close()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._cb.open()


_registry: dict[tuple[str, int, float], CircuitBreaker] = {}
_registry_lock = threading.Lock()


def shared_breaker(name: str, failure_threshold: int, recovery_s: float) -> CircuitBreaker:
    """The one breaker of this process for a named service (shared by all its threads)."""
    key = (name, failure_threshold, recovery_s)
    with _registry_lock:
        breaker = _registry.get(key)
        if breaker is None:
            breaker = _registry[key] = CircuitBreaker(name, failure_threshold=failure_threshold,
                                                      recovery_s=recovery_s)
        return breaker
