"""Fault injection over a real loopback socket: 30% 503, 10% 429 with Retry-After, 5% stalls and
2% responses lost after the request took effect. 200 submits and their status calls must all
succeed within their deadlines, no job may be created twice, and the request rate seen by the
server must stay within the client's rate limit."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from service_helpers import (
    API_KEY,
    ThreadedServer,
    auth,
    config_for,
    require_stage,
    tiny_manifest,
)

from blueprint_pipeline.client.api import ClientTimeouts, ServiceClient, paced_rate
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.faults import FaultConfig
from blueprint_pipeline.service.worker import WorkerSettings

SUBMITS = 200
CLIENT_RATE_PER_S = 50.0
THREADS = 8


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


def max_in_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window_s:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.slow
def test_submits_and_status_survive_injected_faults(tmp_path):
    require_stage("scene")
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
    assert busiest <= CLIENT_RATE_PER_S


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
