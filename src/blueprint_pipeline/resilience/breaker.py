"""Circuit breaker: opens after N consecutive transient failures, fails fast while open, then
admits exactly one probe call (half-open) whose outcome closes or reopens it.

State, counters and listeners are pybreaker's (`CircuitBreaker` with a memory storage). We do
not use `pybreaker.CircuitBreaker.call`: it holds one lock for the whole guarded call, which
serialises every concurrent request even while the circuit is closed, and it times the open
state with the wall clock, which tests cannot control. The gate below keeps the lock only
around state changes and admits a single probe among concurrent callers.

Callers that would rather wait than fail fast (`await_admission`) sleep until the open period
ends, and while the probe is in flight they wait for its outcome; a caller whose deadline ends
before the breaker could admit it still fails fast.
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
    def __init__(self, name: str, *, failure_threshold: int = 5, recovery_s: float = 10.0,
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
        self._probe_done = threading.Condition(self._lock)  # notified when a probe reports
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        return self._cb.current_state

    @property
    def failure_count(self) -> int:
        return self._storage.counter

    def add_listener(self, listener: pybreaker.CircuitBreakerListener) -> None:
        """pybreaker's listener hooks (`state_change(cb, old, new)` on every transition)."""
        self._cb.add_listener(listener)

    def _open_for_s(self) -> float:
        """Seconds left in the open period (lock held, state OPEN)."""
        assert self._opened_at is not None
        return self._opened_at + self.recovery_s - self._clock()

    def _open_error(self, left_s: float, why: str = "") -> CircuitOpenError:
        return CircuitOpenError(
            f"{self.name}: circuit breaker open after {self._cb.fail_max} consecutive "
            f"transient failures; failing fast for another {left_s:.1f} s{why}", left_s)

    def before_attempt(self) -> bool:
        """Admit an attempt or raise CircuitOpenError; returns True if it is the probe."""
        with self._lock:
            state = self._cb.current_state
            if state == OPEN:
                left_s = self._open_for_s()
                if left_s > 0:
                    raise self._open_error(left_s)
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

    def await_admission(self, time_left: Callable[[], float],
                        sleep: Callable[[float], None] = time.sleep) -> None:
        """Return once an attempt could be admitted: the circuit is closed, or its open period is
        over and no probe is in flight. While open, sleep until the half-open moment; while the
        probe is in flight, wait for its outcome (and, if it failed, for the next half-open
        moment). Raise CircuitOpenError at once when that moment lies beyond `time_left()`
        seconds (the caller's remaining deadline), so a call that cannot wait still fails fast.

        `before_attempt` still decides: another caller may take the probe first, in which case
        it raises and the caller comes back here."""
        while True:
            with self._lock:
                state = self._cb.current_state
                if state == CLOSED:
                    return
                if state == OPEN:
                    open_for_s = self._open_for_s()
                    if open_for_s <= 0:
                        return
                    if open_for_s >= time_left():
                        raise self._open_error(open_for_s, ", past this call's deadline")
                elif not self._probe_in_flight:
                    return
                else:
                    left_s = time_left()
                    if left_s <= 0:
                        raise CircuitOpenError(
                            f"{self.name}: circuit breaker half-open and its probe call is still "
                            "in flight at this call's deadline", 0.0)
                    self._probe_done.wait(left_s)
                    continue
            sleep(open_for_s)  # outside the lock: the open period ends for every waiter at once

    def record_success(self, probe: bool) -> None:
        with self._lock:
            self._storage.reset_counter()
            if probe:
                self._probe_in_flight = False
                self._cb.close()
                self._probe_done.notify_all()

    def record_transient_failure(self, probe: bool) -> None:
        with self._lock:
            self._storage.increment_counter()
            if probe:
                self._probe_in_flight = False
                self._open()
                self._probe_done.notify_all()
            elif self._cb.current_state == CLOSED and self._storage.counter >= self._cb.fail_max:
                self._open()

    def record_not_counted(self, probe: bool) -> None:
        """A non-transient outcome (e.g. HTTP 404): the service answered, so a probe closes the
        circuit; the consecutive-failure count is left as it was."""
        with self._lock:
            if probe:
                self._probe_in_flight = False
                self._cb.close()
                self._probe_done.notify_all()

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
