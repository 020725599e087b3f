"""Service down: the client's breaker opens after the configured failures and fails fast with a
clear message; service back: exactly one probe, then closed. Real sockets, real server."""

from __future__ import annotations

import uuid

import pytest
from service_helpers import API_KEY, CountingTransport, ThreadedServer, config_for

from blueprint_pipeline.cli import report_error
from blueprint_pipeline.client.api import ClientTimeouts, ServiceClient
from blueprint_pipeline.resilience.breaker import CLOSED, OPEN, CircuitBreaker
from blueprint_pipeline.resilience.errors import CircuitOpenError, RetryExhaustedError
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.worker import WorkerSettings


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_breaker_opens_when_service_down_and_closes_after_one_probe(tmp_path, capsys):
    failures = 3
    clock = FakeClock()
    name = f"svc-{uuid.uuid4().hex[:8]}"
    breaker = CircuitBreaker(name, failure_threshold=failures, recovery_s=30.0, clock=clock)
    policy = CallPolicy(name, rate_per_s=1000, base_delay_s=0.01, max_delay_s=0.02, deadline_s=5.0,
                        breaker=breaker)
    transport = CountingTransport()
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv:
        port = srv.port
        client = ServiceClient(srv.url, API_KEY, policy=policy, transport=transport,
                               timeouts=ClientTimeouts(request_s=2, connect_s=1))
        assert client.list_jobs() == []
        assert breaker.state == CLOSED and transport.sent == 1

    # Service down: connection refused is transient; the breaker opens after `failures` of them.
    with pytest.raises((CircuitOpenError, RetryExhaustedError)):
        client.list_jobs()
    assert breaker.state == OPEN
    assert transport.sent == 1 + failures  # the attempt after the last failure never left

    sent_before = transport.sent
    with pytest.raises(CircuitOpenError) as info:
        client.list_jobs()
    assert transport.sent == sent_before  # failed fast: nothing sent
    message = str(info.value)
    assert "circuit breaker open" in message and f"{failures} consecutive" in message
    assert report_error(info.value) == 1
    assert "circuit breaker open" in capsys.readouterr().err

    # Service back on the same port; while the breaker is open we still fail fast.
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app, port=port):
        with pytest.raises(CircuitOpenError):
            client.list_jobs()
        assert transport.sent == sent_before
        clock.now_s += 31.0  # past recovery_s: the next call is the single probe
        assert client.list_jobs() == []
        assert transport.sent == sent_before + 1
        assert breaker.state == CLOSED
        assert client.list_jobs() == []
        assert transport.sent == sent_before + 2
    client.close()
