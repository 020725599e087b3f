"""CallPolicy against a real HTTP server on 127.0.0.1 that injects failures."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from blueprint_pipeline.errors import ErrorCategory
from blueprint_pipeline.resilience import (
    CallPolicy,
    CircuitBreaker,
    CircuitOpenError,
    RequestRejectedError,
    RetryExhaustedError,
    parse_retry_after,
)
from blueprint_pipeline.resilience.breaker import CLOSED, HALF_OPEN, OPEN
from blueprint_pipeline.resilience.limiter import RateLimiter
from blueprint_pipeline.testing.rates import max_in_window


class FaultServer:
    """Answers from a script of (status, headers) and records when each request arrived."""

    def __init__(self) -> None:
        self.script: deque[tuple[int, dict[str, str]]] = deque()
        self.default: tuple[int, dict[str, str]] = (200, {})
        self.arrivals: list[float] = []
        self.gate: threading.Event | None = None  # when set, requests wait for it
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.arrivals.append(time.monotonic())
                    status, headers = server.script.popleft() if server.script else server.default
                    gate = server.gate
                if gate is not None:
                    gate.wait(30)
                body = f"status {status}".encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/thing?key=not-for-logs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def hits(self) -> int:
        with self.lock:
            return len(self.arrivals)


@pytest.fixture
def server():
    s = FaultServer()
    s.thread.start()
    yield s
    if s.gate is not None:
        s.gate.set()
    s.httpd.shutdown()
    s.httpd.server_close()


class FakeTime:
    """A clock that only moves when the code under test sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, s: float) -> None:
        with self.lock:
            self.sleeps.append(s)
            self.now += s

    def advance(self, s: float) -> None:
        with self.lock:
            self.now += s


_names = iter(range(10**6))


def make_policy(fake: FakeTime | None = None, **kw) -> CallPolicy:
    """A policy with its own limiter and breaker (unique name), on a fake clock if given."""
    name = f"svc{next(_names)}"
    fake_kw = {}
    if fake is not None:
        fake_kw = {"clock": fake.clock, "sleep": fake.sleep}
    breaker = CircuitBreaker(name, failure_threshold=kw.pop("failure_threshold", 5),
                             recovery_s=kw.pop("recovery_s", 60.0),
                             **({"clock": fake.clock} if fake else {}))
    kw.setdefault("rate_per_s", 1000.0)
    return CallPolicy(name, breaker=breaker, limiter=RateLimiter(name, kw.pop("rate_per_s")),
                      **fake_kw, **kw)


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(server, client, status):
    fake = FakeTime()
    server.script.extend([(status, {}), (status, {})])
    policy = make_policy(fake)
    response = policy.request(client, "GET", server.url)
    assert response.status_code == 200
    assert server.hits == 3
    assert len(fake.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 418])
def test_client_errors_are_not_retried_nor_counted(server, client, status):
    fake = FakeTime()
    server.default = (status, {})
    policy = make_policy(fake, failure_threshold=2)
    for _ in range(4):
        with pytest.raises(RequestRejectedError) as info:
            policy.request(client, "GET", server.url)
        assert info.value.status == status
        assert info.value.category is ErrorCategory.DEPENDENCY
    assert server.hits == 4
    assert fake.sleeps == []
    assert policy.breaker.state == CLOSED and policy.breaker.failure_count == 0
    assert "not-for-logs" not in str(info.value)  # the query string is left out of messages


def test_retry_after_seconds_is_honoured(server, client):
    fake = FakeTime()
    server.script.append((429, {"Retry-After": "7"}))
    policy = make_policy(fake, base_delay_s=0.5, max_delay_s=1.0)
    assert policy.request(client, "GET", server.url).status_code == 200
    assert fake.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(server, client):
    fake = FakeTime()
    when = datetime.now(UTC) + timedelta(seconds=30)
    server.script.append((503, {"Retry-After": format_datetime(when, usegmt=True)}))
    policy = make_policy(fake, base_delay_s=0.5, max_delay_s=1.0)
    assert policy.request(client, "GET", server.url).status_code == 200
    assert len(fake.sleeps) == 1 and 25.0 <= fake.sleeps[0] <= 30.0


def test_retry_after_past_the_deadline_gives_up_at_once(server, client):
    fake = FakeTime()
    server.default = (503, {"Retry-After": "500"})
    policy = make_policy(fake, deadline_s=120.0)
    with pytest.raises(RetryExhaustedError) as info:
        policy.request(client, "GET", server.url)
    assert server.hits == 1 and fake.sleeps == []
    assert "past the deadline" in str(info.value) and info.value.status == 503


def test_deadline_bounds_the_whole_call_and_jitter_stays_under_the_cap(server, client):
    fake = FakeTime()
    server.default = (500, {})
    policy = make_policy(fake, base_delay_s=1.0, max_delay_s=4.0, deadline_s=40.0,
                         failure_threshold=1000)
    start = fake.clock()
    with pytest.raises(RetryExhaustedError) as info:
        policy.request(client, "GET", server.url)
    assert fake.clock() - start <= 40.0
    assert info.value.attempts == server.hits >= 5
    assert all(0.0 <= s <= 4.0 for s in fake.sleeps)
    # Full jitter: delays vary instead of all sitting at the cap.
    assert len(set(fake.sleeps)) > 1


def test_parse_retry_after():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:09 GMT", now) == 9.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_connection_errors_are_transient(client):
    fake = FakeTime()
    policy = make_policy(fake, deadline_s=10.0, failure_threshold=1000)
    with pytest.raises(RetryExhaustedError) as info:
        policy.request(client, "GET", "http://127.0.0.1:9/nothing-listens-here")
    assert isinstance(info.value.last_error, httpx.ConnectError)
    assert info.value.attempts > 1


def test_non_transient_exceptions_from_call_are_raised_at_once():
    fake = FakeTime()
    policy = make_policy(fake)
    calls = []

    def attempt():
        calls.append(1)
        raise ValueError("bad payload")

    with pytest.raises(ValueError):
        policy.call(attempt)
    assert calls == [1]


def test_breaker_opens_fails_fast_then_probe_closes_it(server, client):
    fake = FakeTime()
    server.default = (503, {})
    policy = make_policy(fake, failure_threshold=3, recovery_s=60.0, deadline_s=1000.0)
    with pytest.raises(CircuitOpenError):
        policy.request(client, "GET", server.url)
    assert server.hits == 3 and policy.breaker.state == OPEN
    # While open: no request reaches the server.
    with pytest.raises(CircuitOpenError) as info:
        policy.request(client, "GET", server.url)
    assert server.hits == 3 and info.value.category is ErrorCategory.TRANSIENT
    fake.advance(60.0)
    server.default = (200, {})
    assert policy.request(client, "GET", server.url).status_code == 200
    assert policy.breaker.state == CLOSED and server.hits == 4


def test_failed_probe_reopens_and_successes_reset_the_count():
    from blueprint_pipeline.resilience import TransientHTTPError

    fake = FakeTime()
    # A deadline this short leaves no time for a retry, so each call is exactly one attempt.
    policy = make_policy(fake, failure_threshold=3, recovery_s=10.0, deadline_s=1e-9,
                         rate_per_s=1e6)
    script = deque([503, 503, 200, 503, 503])

    def attempt() -> int:
        status = script.popleft() if script else 503
        if status != 200:
            raise TransientHTTPError(f"HTTP {status}", status)
        return status

    # Two failures, a success, two failures: never three in a row, so the breaker stays closed.
    for _ in range(5):
        try:
            policy.call(attempt)
        except RetryExhaustedError:
            pass
    assert policy.breaker.state == CLOSED and policy.breaker.failure_count == 2
    with pytest.raises(RetryExhaustedError):
        policy.call(attempt)
    assert policy.breaker.state == OPEN
    fake.advance(10.0)
    with pytest.raises(RetryExhaustedError):
        policy.call(attempt)  # the probe fails ...
    assert policy.breaker.state == OPEN  # ... and the breaker opens again
    with pytest.raises(CircuitOpenError):
        policy.call(attempt)


def test_half_open_admits_exactly_one_probe_among_16_callers(server):
    fake = FakeTime()
    policy = make_policy(fake, failure_threshold=2, recovery_s=60.0, deadline_s=1000.0)
    server.default = (503, {})
    with httpx.Client() as c, pytest.raises(CircuitOpenError):
        policy.request(c, "GET", server.url)
    assert policy.breaker.state == OPEN and server.hits == 2
    fake.advance(61.0)
    server.default = (200, {})
    server.gate = threading.Event()  # the probe is held at the server until we release it
    barrier = threading.Barrier(16)
    outcomes: list[str] = []
    out_lock = threading.Lock()

    def caller() -> None:
        with httpx.Client() as c:
            barrier.wait()
            try:
                r = policy.request(c, "GET", server.url)
                result = f"ok {r.status_code}"
            except CircuitOpenError:
                result = "fast-fail"
        with out_lock:
            outcomes.append(result)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with out_lock:
            if len(outcomes) == 15:
                break
        time.sleep(0.01)
    assert policy.breaker.state == HALF_OPEN
    assert server.hits == 3  # exactly one probe reached the server
    server.gate.set()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["fast-fail"] * 15 + ["ok 200"]
    assert policy.breaker.state == CLOSED
    server.gate = None
    with httpx.Client() as c:
        assert policy.request(c, "GET", server.url).status_code == 200


def test_limiter_holds_across_16_threads_including_retries(server):
    rate_per_s = 20.0
    name = f"limited{next(_names)}"
    policy = CallPolicy(name, rate_per_s=rate_per_s, base_delay_s=0.01, max_delay_s=0.05,
                        deadline_s=60.0, failure_threshold=1000)
    # Every third request fails and is retried: retries must queue at the limiter too.
    server.script.extend([(503, {}) if i % 3 == 0 else (200, {}) for i in range(200)])

    def worker() -> None:
        with httpx.Client() as c:
            for _ in range(3):
                policy.request(c, "GET", server.url)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    arrivals = sorted(server.arrivals)
    assert len(arrivals) >= 16 * 3 + 16  # the retries reached the server too
    # Permits are spaced 1/rate apart, so any 2 s window at the server holds at most 2 * rate + 1;
    # two more are allowed for scheduling delays between the limiter and the server's clock read
    # on a busy machine. Without the limiter all of them would arrive within a fraction of that.
    assert max_in_window(arrivals, 2.0) <= 2 * rate_per_s + 3
    span_s = arrivals[-1] - arrivals[0]
    assert (len(arrivals) - 1) / span_s <= rate_per_s * 1.1


def test_limiter_below_one_per_second(server):
    rate_per_s = 0.5  # one request every 2 s
    policy = CallPolicy(f"slow{next(_names)}", rate_per_s=rate_per_s, deadline_s=60.0)

    def worker() -> None:
        with httpx.Client() as c:
            policy.request(c, "GET", server.url)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    arrivals = sorted(server.arrivals)
    assert len(arrivals) == 3
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # Permits are 2 s apart; the slack allows for scheduling delays between the limiter and the
    # server on a busy machine, and is still far from 1 s (a rate rounded up to 1/s).
    assert all(g >= 2.0 - 0.5 for g in gaps), gaps


def test_limiter_wait_is_bounded_by_the_deadline():
    from blueprint_pipeline.resilience.limiter import RateLimitWaitError

    limiter = RateLimiter("bounded", 0.01)  # one permit per 100 s
    limiter.acquire()
    with pytest.raises(RateLimitWaitError):
        limiter.acquire(deadline_at=time.monotonic() + 1.0)


def test_from_settings_uses_configured_values():
    from blueprint_pipeline.config import load_settings

    settings = load_settings({"BP_RATE_LIMIT_PER_S": "0.5", "BP_BREAKER_FAILURES": "7",
                              "BP_BREAKER_RECOVERY_S": "30", "BP_RETRY_MAX_WAIT_S": "9",
                              "BP_CALL_DEADLINE_S": "45"})
    policy = CallPolicy.from_settings(f"cfg{next(_names)}", settings)
    assert policy.limiter.rate_per_s == 0.5
    assert policy.breaker.recovery_s == 30.0 and policy.max_delay_s == 9.0
    assert policy.deadline_s == 45.0


def test_the_deadline_bounds_a_server_that_never_answers(server, client):
    server.gate = threading.Event()  # every request hangs at the server until the test ends
    policy = CallPolicy(f"hang{next(_names)}", rate_per_s=1000.0, deadline_s=1.0, base_delay_s=0.05,
                        max_delay_s=0.1, failure_threshold=1000)
    with pytest.raises(RetryExhaustedError) as info:
        policy.request(client, "GET", server.url)
    assert isinstance(info.value.last_error, httpx.TimeoutException)


def test_policies_of_one_service_share_limiter_and_breaker():
    name = f"shared{next(_names)}"
    a, b = CallPolicy(name), CallPolicy(name)
    assert a.limiter is b.limiter and a.breaker is b.breaker
    assert CallPolicy(f"other{next(_names)}").limiter is not a.limiter


def test_a_request_that_can_never_work_is_not_retried(client):
    fake = FakeTime()
    policy = make_policy(fake)
    with pytest.raises(httpx.UnsupportedProtocol):
        policy.request(client, "GET", "ftp://127.0.0.1/file")
    assert fake.sleeps == [] and policy.breaker.failure_count == 0
