"""CallPolicy with `wait_for_breaker=True` (the service client's policy): a call whose deadline
allows it waits for an open breaker's half-open probe instead of failing, only one caller
probes, the others wait for its outcome and then queue at the rate limiter. Answers carrying
Retry-After are honoured and never open the breaker. Real HTTP server on 127.0.0.1; the
breaker's open periods run on a fake clock."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest
from test_resilience_policy import FakeTime, make_policy, server  # noqa: F401 (fixture)

from blueprint_pipeline.resilience import CircuitOpenError
from blueprint_pipeline.resilience.breaker import CLOSED, HALF_OPEN, OPEN
from blueprint_pipeline.testing.rates import max_in_window


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


def test_a_call_waits_through_the_open_period_and_its_probe_succeeds(server, client):
    fake = FakeTime()
    server.script.extend([(503, {})] * 3)
    policy = make_policy(fake, failure_threshold=3, recovery_s=10.0, deadline_s=120.0,
                         base_delay_s=0.01, max_delay_s=0.02, wait_for_breaker=True)
    assert policy.request(client, "GET", server.url).status_code == 200
    # Three failures opened the breaker; nothing was sent while it was open; one probe closed it.
    assert server.hits == 4 and policy.breaker.state == CLOSED
    assert any(9.9 <= s <= 10.0 for s in fake.sleeps), fake.sleeps  # slept until half-open


def test_a_call_whose_deadline_ends_before_the_breaker_half_opens_fails_fast(server, client):
    fake = FakeTime()
    server.default = (503, {})
    policy = make_policy(fake, failure_threshold=3, recovery_s=60.0, deadline_s=30.0,
                         base_delay_s=0.01, max_delay_s=0.02, wait_for_breaker=True)
    with pytest.raises(CircuitOpenError) as info:
        policy.request(client, "GET", server.url)
    assert server.hits == 3 and policy.breaker.state == OPEN
    assert "past this call's deadline" in str(info.value)
    assert all(s < 1.0 for s in fake.sleeps)  # it did not sleep towards a moment it could not use


def test_a_failed_probe_sends_waiters_to_the_next_half_open_moment_within_their_deadline(server, client):
    fake = FakeTime()
    server.default = (503, {})
    policy = make_policy(fake, failure_threshold=2, recovery_s=10.0, deadline_s=15.0,
                         base_delay_s=0.01, max_delay_s=0.02, wait_for_breaker=True)
    with pytest.raises(CircuitOpenError) as info:
        policy.request(client, "GET", server.url)
    # Two failures opened it; the call waited 10 s for the probe, which failed and reopened the
    # breaker for 10 s more: past the 15 s deadline, so the call gave up there, without sending.
    assert server.hits == 3 and policy.breaker.state == OPEN
    assert "past this call's deadline" in str(info.value)


def test_one_probe_while_the_others_wait_for_its_outcome_then_all_succeed_through_the_limiter(server):
    fake = FakeTime()
    rate_per_s = 20.0
    policy = make_policy(fake, failure_threshold=2, recovery_s=60.0, deadline_s=1000.0,
                         rate_per_s=rate_per_s, wait_for_breaker=True)
    policy.breaker.record_transient_failure(False)
    policy.breaker.record_transient_failure(False)
    assert policy.breaker.state == OPEN
    fake.advance(61.0)
    server.gate = threading.Event()  # the probe is held at the server until we release it
    barrier = threading.Barrier(16)
    outcomes: list[str] = []
    out_lock = threading.Lock()

    def caller() -> None:
        with httpx.Client() as c:
            barrier.wait()
            try:
                result = f"ok {policy.request(c, 'GET', server.url).status_code}"
            except Exception as exc:  # noqa: BLE001 - recorded for the assertion below
                result = type(exc).__name__
        with out_lock:
            outcomes.append(result)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for t in threads:
        t.start()
    while server.hits < 1:
        time.sleep(0.01)
    time.sleep(0.5)  # room for any other caller to (wrongly) reach the server or give up
    assert server.hits == 1 and policy.breaker.state == HALF_OPEN  # exactly one probe
    with out_lock:
        assert outcomes == []  # nobody failed fast: they wait for the probe's outcome
    server.gate.set()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["ok 200"] * 16
    assert server.hits == 16 and policy.breaker.state == CLOSED
    # The 15 released together still queued at the limiter: permits are 1/rate apart, so any
    # 0.5 s window holds at most rate/2 + 1 (+2 for scheduling on a busy machine).
    assert max_in_window(server.arrivals, 0.5) <= rate_per_s / 2 + 3


def test_a_failed_probe_keeps_the_others_waiting_for_the_next_probe(server):
    fake = FakeTime()
    policy = make_policy(fake, failure_threshold=2, recovery_s=10.0, deadline_s=10_000.0,
                         base_delay_s=0.01, max_delay_s=0.02, wait_for_breaker=True)
    policy.breaker.record_transient_failure(False)
    policy.breaker.record_transient_failure(False)
    fake.advance(11.0)
    server.script.append((503, {}))  # the first probe fails; the next one succeeds
    server.gate = threading.Event()
    outcomes: list[str] = []
    out_lock = threading.Lock()

    def caller() -> None:
        with httpx.Client() as c:
            try:
                result = f"ok {policy.request(c, 'GET', server.url).status_code}"
            except Exception as exc:  # noqa: BLE001
                result = type(exc).__name__
        with out_lock:
            outcomes.append(result)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    while server.hits < 1:
        time.sleep(0.01)
    time.sleep(0.3)
    assert server.hits == 1
    server.gate.set()  # the probe's 503 reopens the breaker; the waiters sleep to the next probe
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["ok 200"] * 8
    assert server.hits == 1 + 8 and policy.breaker.state == CLOSED


@pytest.mark.parametrize("status", [429, 503])
def test_answers_with_retry_after_are_honoured_and_never_open_the_breaker(server, client, status):
    fake = FakeTime()
    server.script.extend([(status, {"Retry-After": "2"})] * 6)
    policy = make_policy(fake, failure_threshold=2, recovery_s=60.0, deadline_s=120.0)
    assert policy.request(client, "GET", server.url).status_code == 200
    assert fake.sleeps == [2.0] * 6  # the server's word, six times; never the breaker's 60 s
    assert server.hits == 7 and policy.breaker.state == CLOSED and policy.breaker.failure_count == 0


def test_the_service_clients_policies_wait_for_the_breaker(monkeypatch):
    from blueprint_pipeline.client.api import ServiceClient
    from blueprint_pipeline.client.factory import client_from_settings
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.secrets import resolver

    with ServiceClient("http://127.0.0.1:9", "k") as default:
        assert default.policy.wait_for_breaker
    for var in [v for v in os.environ if v.startswith("BP_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("BP_API_KEY", "a-key")
    resolver.clear_cache()
    get_settings(reload=True)
    try:
        a = client_from_settings("http://127.0.0.1:9")
        b = client_from_settings("http://127.0.0.1:10")
        assert a.policy.wait_for_breaker and a.policy.breaker is not b.policy.breaker
        a.close()
        b.close()
    finally:
        monkeypatch.undo()
        resolver.clear_cache()
        get_settings(reload=True)


def default_policy(fake: FakeTime, **overrides):
    """CallPolicy at default settings (its own breaker and limiter, on the fake clock)."""
    from blueprint_pipeline.config import load_settings
    from blueprint_pipeline.resilience import CallPolicy, CircuitBreaker
    from blueprint_pipeline.resilience.limiter import RateLimiter

    settings = load_settings({})
    name = f"defaults-{time.monotonic_ns()}"
    breaker = CircuitBreaker(name, failure_threshold=overrides.pop("failure_threshold", settings.breaker_failures),
                             recovery_s=settings.breaker_recovery_s, clock=fake.clock)
    return CallPolicy.from_settings(name, settings, clock=fake.clock, sleep=fake.sleep, breaker=breaker,
                                    limiter=RateLimiter(name, 1000.0), **overrides)


def test_at_default_settings_a_waiting_call_outlasts_failed_probes(server, client):
    """Five failures open the breaker; three probes fail; the fourth succeeds, all inside the
    default deadline. (With an open period of half the deadline, the first failed probe would
    leave no time for a second.)"""
    fake = FakeTime()
    server.script.extend([(503, {})] * (5 + 3))
    policy = default_policy(fake, wait_for_breaker=True)
    assert policy.request(client, "GET", server.url).status_code == 200
    assert server.hits == 5 + 3 + 1 and policy.breaker.state == CLOSED
    assert fake.clock() - 1000.0 < policy.deadline_s


def test_default_backoff_leaves_a_call_many_attempts_within_its_deadline(server, client):
    """Against a service that keeps failing, the default retry settings make at least 14 attempts
    in the default deadline (1+2+4+8 s, then at most the 10 s cap between attempts), so a call
    to a service failing 42 % of the time is not lost to two long backoff draws."""
    from blueprint_pipeline.resilience import RetryExhaustedError

    fake = FakeTime()
    server.default = (503, {})
    policy = default_policy(fake, failure_threshold=1000)  # the retry budget alone, no breaker
    with pytest.raises(RetryExhaustedError) as info:
        policy.request(client, "GET", server.url)
    assert info.value.attempts == server.hits >= 14
    assert max(fake.sleeps) <= 10.0
