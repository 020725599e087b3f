"""Fault injection over a real loopback socket: 30% 503, 10% 429 with Retry-After, 5% stalls and
2% responses lost after the request took effect. 200 submits and their status calls must all
succeed within their deadlines, no job may be created twice, and the request rate seen by the
server must stay within the client's rate limit. The same holds for the CLI's client with every
setting at its default (circuit breaker included) under the drill of the integrity issue."""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pybreaker
import pytest
from service_helpers import (
    API_KEY,
    ThreadedServer,
    auth,
    config_for,
    tiny_manifest,
)

from blueprint_pipeline.client.api import ClientTimeouts, ServiceClient, paced_rate
from blueprint_pipeline.client.factory import client_from_settings
from blueprint_pipeline.config import get_settings, load_settings
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.secrets import resolver
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.auth import hash_key
from blueprint_pipeline.service.config import ServiceConfig
from blueprint_pipeline.service.faults import FaultConfig
from blueprint_pipeline.service.worker import WorkerSettings
from blueprint_pipeline.testing.rates import max_in_window

SUBMITS = 200
CLIENT_RATE_PER_S = 50.0
THREADS = 8

# The client's limiter spaces its calls as they leave; they arrive at the service after thread
# scheduling and the socket, which can bunch them: a 1 s window at the service once held 11
# calls under a 10/s limit on a loaded 2-core machine (a CI run of 2026-12-05). So a window may
# hold this many calls more than the limit.
ARRIVAL_JITTER_CALLS = 2


class ArrivalRecorder:
    """Outermost ASGI layer: when each HTTP request reached the server (monotonic seconds)."""

    def __init__(self, app):
        self.app = app
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            with self._lock:
                self.arrivals.append(time.monotonic())
        await self.app(scope, receive, send)


@pytest.mark.slow
def test_submits_and_status_survive_injected_faults(tmp_path):
    manifest = tiny_manifest(tmp_path)
    faults = FaultConfig(seed=20261128, p503=0.30, p429=0.10, pstall=0.05, pdrop=0.02,
                         stall_s=1.5, retry_after_s=1)
    cfg = config_for(tmp_path / "data", faults=faults, rate_limit_per_s=10_000.0,
                     worker=WorkerSettings(max_concurrent_jobs=0))  # accept and queue only
    app = create_app(cfg)
    recorder = ArrivalRecorder(app)
    policy = CallPolicy(f"faults-{uuid.uuid4().hex[:8]}", rate_per_s=paced_rate(CLIENT_RATE_PER_S),
                        failure_threshold=1000, base_delay_s=0.05, max_delay_s=0.5, deadline_s=60.0)
    with ThreadedServer(recorder) as srv, ServiceClient(
            srv.url, API_KEY, policy=policy, timeouts=ClientTimeouts(request_s=0.75, connect_s=0.75)) as client:

        def submit_and_check(i: int) -> tuple[str, str]:
            job = client.submit(manifest, seed=i)
            seen = client.status(job["id"])
            assert seen["id"] == job["id"] and seen["params"]["seed"] == i
            return job["id"], job["state"]

        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(submit_and_check, range(SUBMITS)))

        ids = [job_id for job_id, _ in results]
        assert len(set(ids)) == SUBMITS  # each submit got its own job...
        store = app.state.store
        jobs = store.list_for_owner(store.get(ids[0]).owner, limit=10 * SUBMITS)
        assert len(jobs) == SUBMITS  # ...and no retry created a second one
        assert sorted(j.params["seed"] for j in jobs) == list(range(SUBMITS))

        metrics = httpx.get(f"{srv.url}/metrics", headers=auth()).text
        counts = {kind: _metric(metrics, f'bp_faults_injected_total{{kind="{kind}"}}')
                  for kind in ("503", "429", "stall", "drop")}
        assert all(n > 0 for n in counts.values()), counts
        arrivals = list(recorder.arrivals)

    busiest = max_in_window(arrivals, 1.0)
    print(f"\n{len(arrivals)} requests for {2 * SUBMITS} calls; faults {counts}; "
          f"busiest 1 s at the server: {busiest} (client limit {CLIENT_RATE_PER_S:g}/s)")
    assert len(arrivals) > 2 * SUBMITS  # faults really forced retries
    assert busiest <= CLIENT_RATE_PER_S + ARRIVAL_JITTER_CALLS


# The integrity issue's drill, verbatim: the service's BP_SERVICE_FAULTS.
DRILL_FAULTS = "seed=1,p503=0.3,p429=0.1,pstall=0.05,stall_s=2,pdrop=0.02,retry_after_s=1"
DRILL_CALLS = 100  # submits, each followed by a status call of its job
# Seed 1 opens the client's breaker in some runs only (it depends on the order in which answers
# come back); seed 1699 draws ten 503s in a row from the 24th request on, so it opens it in every
# run: the case where calls must wait for the probe.
BREAKER_OPENING_SEED = 1699


class OpenCounter(pybreaker.CircuitBreakerListener):
    def __init__(self) -> None:
        self.count = 0

    def state_change(self, cb, old_state, new_state) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.count += 1


@pytest.fixture
def default_settings(monkeypatch):
    """The process's settings at their defaults (no BP_* variable but the client's key)."""
    for var in [v for v in os.environ if v.startswith("BP_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("BP_API_KEY", API_KEY)
    resolver.clear_cache()
    yield get_settings(reload=True)
    monkeypatch.undo()
    resolver.clear_cache()
    get_settings(reload=True)


@pytest.mark.slow
@pytest.mark.parametrize("threads,seed", [(4, 1), (8, 1), (8, BREAKER_OPENING_SEED)])
def test_the_cli_client_at_default_settings_gets_every_call_through_the_drill(tmp_path, default_settings,
                                                                              threads, seed):
    """`client_from_settings` (what `blueprint submit/status` use) with every setting at its
    default, breaker included, against the service under BP_SERVICE_FAULTS: every call succeeds
    (a call waits for an open breaker's probe when its deadline allows), no job is created twice,
    and no 1 s window at the service holds more requests than the client's rate limit."""
    manifest = tiny_manifest(tmp_path)
    service = ServiceConfig.from_settings(load_settings({
        "BP_SERVICE_DATA_DIR": str(tmp_path / "data"), "BP_SERVICE_API_KEY_HASHES": hash_key(API_KEY),
        "BP_SERVICE_FAULTS": DRILL_FAULTS.replace("seed=1,", f"seed={seed},"),
        "BP_SERVICE_MAX_CONCURRENT_JOBS": "0"}))  # accept and queue only
    app = create_app(service)
    recorder = ArrivalRecorder(app)
    failures: list[str] = []
    lock = threading.Lock()
    openings = OpenCounter()
    with ThreadedServer(recorder) as srv, client_from_settings(srv.url) as client:
        client.policy.breaker.add_listener(openings)

        def submit_then_status(i: int) -> int:
            try:
                job = client.submit(manifest, seed=i)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    failures.append(f"submit {i}: {type(exc).__name__}: {exc}")
                return 0  # its status call cannot be made either
            try:
                seen = client.status(job["id"])
            except Exception as exc:  # noqa: BLE001
                with lock:
                    failures.append(f"status {i}: {type(exc).__name__}: {exc}")
                return 1
            assert seen["id"] == job["id"] and seen["params"]["seed"] == i
            return 2

        with ThreadPoolExecutor(threads) as pool:
            succeeded = sum(pool.map(submit_then_status, range(DRILL_CALLS)))
        arrivals = list(recorder.arrivals)  # before our own /metrics request below
        store = app.state.store
        jobs = [store.get(job_id) for job_id in store.all_ids()]
        metrics = httpx.get(f"{srv.url}/metrics", headers=auth()).text
        faults = {kind: _metric(metrics, f'bp_faults_injected_total{{kind="{kind}"}}')
                  for kind in ("503", "429", "stall", "drop")}

    busiest = max_in_window(arrivals, 1.0)
    limit = default_settings.rate_limit_per_s
    print(f"\nseed {seed}, {threads} threads: {succeeded}/{2 * DRILL_CALLS} calls succeeded, {len(jobs)} jobs, "
          f"{len(arrivals)} requests, faults {faults}, breaker opened {openings.count} times, "
          f"busiest 1 s at the service: {busiest} (limit {limit:g}/s)")
    assert succeeded == 2 * DRILL_CALLS, failures[:5]
    seeds = sorted(j.params["seed"] for j in jobs)
    assert seeds == list(range(DRILL_CALLS))  # every submit created its job, and only one
    assert all(n > 0 for n in faults.values()), faults  # the drill really injected every fault
    assert busiest <= limit + ARRIVAL_JITTER_CALLS
    if seed == BREAKER_OPENING_SEED:
        assert openings.count >= 1  # the breaker did open, and the calls waited for its probe


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
