"""One policy object per external service: every attempt (retries included) passes
rate limiter -> circuit breaker -> the call; tenacity retries transient failures with
full-jitter exponential backoff inside an overall deadline.

    policy = CallPolicy.from_settings("gemini", get_settings())
    response = policy.request(client, "POST", url, json=body)   # classified by status
    value = policy.call(lambda: sdk.generate(...))               # any callable

Transient (retried, counted by the breaker): connection errors and timeouts, HTTP 408, 425,
429, 500, 502, 503, 504, and any `TransientError`. An answer carrying Retry-After is retried
when the server asked, and is not counted by the breaker: the service is up and has said when
to come back, which an open breaker would override with its own, longer, guess. Everything
else is raised at once and never counted by the breaker (a 4xx becomes `RequestRejectedError`
carrying the status).

By default an open breaker fails the call fast (`CircuitOpenError`), which suits callers with a
fallback. With `wait_for_breaker=True` a call whose deadline reaches past the open period waits
for the half-open moment instead, and while another caller's probe is in flight it waits for
the probe's outcome; it fails fast only when the breaker could not admit it before its deadline.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import tenacity

from blueprint_pipeline.errors import TransientError
from blueprint_pipeline.resilience.breaker import CircuitBreaker, shared_breaker
from blueprint_pipeline.resilience.errors import (
    CircuitOpenError,
    RequestRejectedError,
    RetryExhaustedError,
    TransientHTTPError,
)
from blueprint_pipeline.resilience.limiter import RateLimiter, RateLimitWaitError, shared_limiter
from blueprint_pipeline.secrets.redact import redact

T = TypeVar("T")
log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


# httpx transport errors worth retrying; the others (UnsupportedProtocol, LocalProtocolError,
# ProxyError) mean our request or configuration is wrong and would fail the same way again.
_TRANSIENT_HTTPX = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: network trouble, timeouts and `TransientError`s."""
    return isinstance(exc, (TransientError, *_TRANSIENT_HTTPX, ConnectionError, TimeoutError))


def _retryable(exc: BaseException) -> bool:
    # An open breaker or an exhausted rate-limit wait means "stop now", not "try again".
    return is_transient(exc) and not isinstance(exc, (CircuitOpenError, RateLimitWaitError))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _safe_url(url: httpx.URL | str) -> str:
    """The URL without query string or credentials (either may carry a key)."""
    u = httpx.URL(str(url))
    return str(u.copy_with(query=None, fragment=None, username=None, password=None))


class CallPolicy:
    """Rate limit, circuit breaker, retry and deadline for calls to one named service.

    Limiter and breaker are shared by every policy of the same name in the process unless
    passed explicitly. `clock`/`sleep` are injectable so tests need not wait for real.
    `wait_for_breaker`: wait for an open breaker within the deadline instead of failing fast.
    """

    def __init__(self, name: str, *, rate_per_s: float = 10.0, failure_threshold: int = 5,
                 recovery_s: float = 10.0, base_delay_s: float = 1.0, max_delay_s: float = 10.0,
                 deadline_s: float = 120.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, limiter: RateLimiter | None = None,
                 breaker: CircuitBreaker | None = None, wait_for_breaker: bool = False):
        if deadline_s <= 0 or max_delay_s <= 0 or base_delay_s <= 0:
            raise ValueError("deadline_s, max_delay_s and base_delay_s must be > 0")
        self.name = name
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.deadline_s = deadline_s
        self.wait_for_breaker = wait_for_breaker
        self._clock = clock
        self._sleep = sleep
        self.limiter = limiter or shared_limiter(name, rate_per_s)
        self.breaker = breaker or shared_breaker(name, failure_threshold, recovery_s)
        # Full jitter: uniform(0, min(max_delay_s, base * 2**n)); the cap applies before the
        # draw, so no delay ever exceeds max_delay_s.
        self._jitter = tenacity.wait_random_exponential(multiplier=base_delay_s, max=max_delay_s)
        self._local = threading.local()

    @classmethod
    def from_settings(cls, name: str, settings: Any, **overrides: Any) -> CallPolicy:
        kwargs: dict[str, Any] = dict(
            rate_per_s=settings.rate_limit_per_s, failure_threshold=settings.breaker_failures,
            recovery_s=settings.breaker_recovery_s, base_delay_s=settings.retry_base_s,
            max_delay_s=settings.retry_max_wait_s, deadline_s=settings.call_deadline_s)
        kwargs.update(overrides)
        return cls(name, **kwargs)

    # -- public API ---------------------------------------------------------------------------

    def call(self, attempt: Callable[[], T]) -> T:
        """Run `attempt` under the policy; returns its value or raises (see module docstring)."""
        return self._run(lambda _deadline_at: attempt())

    def request(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """`client.request(...)` under the policy, classifying the HTTP status. Each attempt's
        timeout is bounded by what is left of the deadline."""
        timeout = kwargs.pop("timeout", None)

        def attempt(deadline_at: float) -> httpx.Response:
            left_s = max(0.001, deadline_at - self._clock())
            per_try = left_s if timeout is None else min(float(timeout), left_s)
            response = client.request(method, url, timeout=per_try, **kwargs)
            self._raise_for_status(response)
            return response

        return self._run(attempt)

    # -- internals ----------------------------------------------------------------------------

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        where = f"{response.request.method} {_safe_url(response.request.url)}"
        if status in TRANSIENT_STATUSES:
            retry_after_s = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientHTTPError(f"{self.name}: HTTP {status} from {where}", status, retry_after_s)
        body = redact(response.text[:200].strip()) if response.content else ""
        raise RequestRejectedError(
            f"{self.name}: HTTP {status} {response.reason_phrase} from {where}"
            + (f": {body}" if body else ""), status)

    def _admit(self, deadline_at: float) -> bool:
        """A rate-limit permit and the breaker's admission; True if this attempt is the probe.

        Waiting callers wait for the breaker before taking a permit, and take a fresh one after
        every wait, so callers released together by a closing breaker still queue at the limiter."""
        if not self.wait_for_breaker:
            self.limiter.acquire(deadline_at, self._clock)
            return self.breaker.before_attempt()

        def time_left() -> float:
            return deadline_at - self._clock()

        while True:
            self.breaker.await_admission(time_left, self._sleep)
            self.limiter.acquire(deadline_at, self._clock)
            try:
                return self.breaker.before_attempt()
            except CircuitOpenError:
                # Another caller took the probe, or the breaker opened again, while this one
                # queued for its permit (left unused: that only lowers the rate). Wait again.
                continue

    def _guarded(self, attempt: Callable[[float], T], deadline_at: float) -> T:
        self._local.attempts += 1
        probe = self._admit(deadline_at)
        try:
            result = attempt(deadline_at)
        except BaseException as exc:
            if is_transient(exc) and getattr(exc, "retry_after_s", None) is None:
                self.breaker.record_transient_failure(probe)
            else:  # not a failure of the service, or it answered with when to come back
                self.breaker.record_not_counted(probe)
            raise
        self.breaker.record_success(probe)
        return result

    def _wait_s(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after_s = getattr(exc, "retry_after_s", None)
        if retry_after_s is not None:
            return float(retry_after_s)  # the server's word beats our backoff
        return float(self._jitter(state))

    def _run(self, attempt: Callable[[float], T]) -> T:
        start = self._clock()
        deadline_at = start + self.deadline_s
        self._local.attempts = 0

        def stop(state: tenacity.RetryCallState) -> bool:
            # Stop if sleeping before the next attempt would cross the deadline.
            return self._clock() + state.upcoming_sleep >= deadline_at

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s: attempt %d failed (%s); retrying in %.2f s", self.name,
                        state.attempt_number, redact(_describe(exc)) if exc else "?", state.upcoming_sleep)

        retrying = tenacity.Retrying(retry=tenacity.retry_if_exception(_retryable), wait=self._wait_s,
                                     stop=stop, sleep=self._sleep, before_sleep=before_sleep)
        try:
            return retrying(self._guarded, attempt, deadline_at)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            assert last is not None
            attempts = self._local.attempts
            elapsed_s = self._clock() - start
            why = ""
            retry_after_s = getattr(last, "retry_after_s", None)
            if retry_after_s is not None and self._clock() + retry_after_s >= deadline_at:
                why = f"; the server asked to retry after {retry_after_s:g} s, past the deadline"
            raise RetryExhaustedError(
                f"{self.name}: gave up after {attempts} attempt{'s' if attempts != 1 else ''} in "
                f"{elapsed_s:.1f} s (deadline {self.deadline_s:g} s){why}; last error: "
                f"{redact(_describe(last))}", attempts, last) from last
