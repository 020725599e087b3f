"""Resilience overheads and parallel speed-up, measured side by side in one run.

    .venv/bin/python bench/resilience.py

1. I/O-bound per-object calls (a local HTTP server answering after 50 ms) through CallPolicy
   and run_items: 1 thread vs 10 threads, with a high rate limit and with the default 10/s.
2. ProcessPool round trip for a trivial task vs calling it in-process.
3. Cost of one heartbeat() call (a store into shared memory) vs an empty Python call.
4. The fault drill: 100 submits and 100 status calls on 4 and on 8 threads, through the CLI's
   client at default settings (breaker included), against the service (uvicorn, loopback) with
   BP_SERVICE_FAULTS=seed=1,p503=0.3,p429=0.1,pstall=0.05,stall_s=2,pdrop=0.02,retry_after_s=1:
   calls that succeeded, jobs created twice, the busiest 1 s at the service against the client's
   rate limit, breaker openings; and once more at 8 threads with seed 1699, whose ten 503s in a
   row open the breaker in every run. About a minute per row (`--no-drill` leaves them out).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pybreaker

from blueprint_pipeline.resilience.partial import run_items
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.resilience.pool import ProcessPool
from blueprint_pipeline.testing.rates import max_in_window

LATENCY_S = 0.05
N_OBJECTS = 40
DRILL_FAULTS = "seed=1,p503=0.3,p429=0.1,pstall=0.05,stall_s=2,pdrop=0.02,retry_after_s=1"
DRILL_CALLS = 100  # submits, each followed by a status call
DRILL_KEY = "bench-key-0123456789abcdef"


class SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(LATENCY_S)
        body = b'{"mass_kg": 1.0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def trivial(x: int, heartbeat) -> int:
    heartbeat()
    return x + 1


def time_calls(client: httpx.Client, url: str, workers: int, rate_per_s: float, tag: str) -> float:
    policy = CallPolicy(f"bench-{tag}", rate_per_s=rate_per_s, deadline_s=120.0)

    def estimate(i: int) -> int:
        return policy.request(client, "GET", f"{url}/object/{i}").status_code

    t0 = time.perf_counter()
    report = run_items(list(range(N_OBJECTS)), estimate, workers=workers, stage="bench")
    assert report.ok_count == N_OBJECTS
    return time.perf_counter() - t0


class OpenCounter(pybreaker.CircuitBreakerListener):
    def __init__(self) -> None:
        self.count = 0

    def state_change(self, cb, old_state, new_state) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.count += 1


def drill(threads: int, seed: int, work: Path) -> dict:
    """One fault drill run (see the module docstring); the service runs in a thread of this
    process on its own loopback port, so every run gets its own client breaker and limiter."""
    import uvicorn

    from blueprint_pipeline.client.factory import client_from_settings
    from blueprint_pipeline.config import get_settings, load_settings
    from blueprint_pipeline.scene.synth import write_synthetic_manifest
    from blueprint_pipeline.secrets import resolver
    from blueprint_pipeline.service.app import create_app
    from blueprint_pipeline.service.auth import hash_key
    from blueprint_pipeline.service.config import ServiceConfig
    from blueprint_pipeline.service.server import header_timeout_protocol

    # Default settings: no BP_* variable in this process but the client's key.
    for var in [v for v in os.environ if v.startswith("BP_")]:
        del os.environ[var]
    os.environ["BP_API_KEY"] = DRILL_KEY
    resolver.clear_cache()
    settings = get_settings(reload=True)

    folder = Path(tempfile.mkdtemp(prefix=f"drill{threads}-", dir=work))
    manifest = folder / "manifest.json"
    write_synthetic_manifest(str(manifest), n=3, seed=1)
    service = ServiceConfig.from_settings(load_settings({
        "BP_SERVICE_DATA_DIR": str(folder / "data"), "BP_SERVICE_API_KEY_HASHES": hash_key(DRILL_KEY),
        "BP_SERVICE_FAULTS": DRILL_FAULTS.replace("seed=1,", f"seed={seed},"),
        "BP_SERVICE_MAX_CONCURRENT_JOBS": "0"}))
    app = create_app(service)
    arrivals: list[float] = []

    async def recorder(scope, receive, send):  # when each request reached the service
        if scope["type"] == "http":
            arrivals.append(time.monotonic())
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(recorder, log_level="critical", lifespan="on",
                                           http=header_timeout_protocol(service.header_timeout_s)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    openings = OpenCounter()
    t0 = time.perf_counter()
    try:
        with client_from_settings(f"http://127.0.0.1:{port}") as client:
            client.policy.breaker.add_listener(openings)

            def submit_then_status(i: int) -> int:
                try:
                    job = client.submit(manifest, seed=i)
                except Exception:  # noqa: BLE001 - counted
                    return 0
                try:
                    client.status(job["id"])
                except Exception:  # noqa: BLE001 - counted
                    return 1
                return 2

            with ThreadPoolExecutor(threads) as pool:
                succeeded = sum(pool.map(submit_then_status, range(DRILL_CALLS)))
        elapsed = time.perf_counter() - t0
        store = app.state.store
        seeds = [store.get(job_id).params["seed"] for job_id in store.all_ids()]
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    return {"threads": threads, "seed": seed, "succeeded": succeeded, "duplicates": len(seeds) - len(set(seeds)),
            "jobs": len(set(seeds)), "requests": len(arrivals), "peak": max_in_window(arrivals),
            "limit": settings.rate_limit_per_s, "openings": openings.count, "seconds": elapsed}


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    rows = []

    # One thread-safe client shared by all threads, created (and its SSL context loaded) up front.
    client = httpx.Client(limits=httpx.Limits(max_connections=32))
    one = time_calls(client, url, 1, 1000.0, "fast1")
    ten = time_calls(client, url, 10, 1000.0, "fast10")
    rows.append((f"{N_OBJECTS} calls, 50 ms each, rate 1000/s: 1 vs 10 threads", one, ten, one / ten))
    one_d = time_calls(client, url, 1, 10.0, "def1")
    ten_d = time_calls(client, url, 10, 10.0, "def10")
    rows.append((f"{N_OBJECTS} calls, 50 ms each, rate 10/s (default): 1 vs 10 threads", one_d, ten_d, one_d / ten_d))
    server.shutdown()

    n_tasks = 300
    t0 = time.perf_counter()
    in_process = [trivial(i, lambda: None) for i in range(n_tasks)]
    t_in = time.perf_counter() - t0
    with ProcessPool(2, deadline_s=30.0, heartbeat_timeout_s=10.0) as pool:
        pool.map(trivial, range(4))  # workers warm
        t0 = time.perf_counter()
        results = pool.map(trivial, range(n_tasks))
        t_pool = time.perf_counter() - t0
    assert [r.value for r in results] == in_process
    rows.append((f"{n_tasks} trivial tasks: in-process vs ProcessPool(2)", t_in, t_pool, t_pool / t_in))

    import multiprocessing

    value = multiprocessing.get_context("spawn").RawValue("d", 0.0)

    def heartbeat() -> None:
        value.value = time.monotonic()

    def empty() -> None:
        return None

    n = 1_000_000
    t0 = time.perf_counter()
    for _ in range(n):
        empty()
    t_empty = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        heartbeat()
    t_beat = time.perf_counter() - t0
    rows.append((f"{n:,} calls: empty function vs heartbeat()", t_empty, t_beat, t_beat / t_empty))

    # ratio: speed-up A/B for the thread rows, cost B/A for the overhead rows.
    print(f"{'measurement: A vs B':<62} {'A (s)':>9} {'B (s)':>9} {'ratio':>11}")
    for name, a, b, ratio in rows:
        print(f"{name:<62} {a:9.3f} {b:9.3f} {ratio:11.2f}")
    print(f"per pool task: {1000 * t_pool / n_tasks:.2f} ms; per heartbeat: {1e9 * t_beat / n:.0f} ns")

    if "--no-drill" in sys.argv[1:]:
        return 0
    import logging

    logging.disable(logging.WARNING)  # one line per retried attempt otherwise
    with tempfile.TemporaryDirectory() as work:
        drills = [drill(threads, seed, Path(work)) for threads, seed in ((4, 1), (8, 1), (8, 1699))]
    print(f"\nfault drill ({DRILL_FAULTS}), {DRILL_CALLS} submits + {DRILL_CALLS} status calls, "
          "CLI client at default settings:")
    print(f"{'seed':>4} {'threads':>7} {'calls ok':>9} {'jobs':>5} {'duplicates':>10} {'requests':>8} "
          f"{'busiest 1 s / limit':>19} {'breaker opened':>14} {'seconds':>8}")
    for d in drills:
        print(f"{d['seed']:>4} {d['threads']:>7} {d['succeeded']:>5}/{2 * DRILL_CALLS} {d['jobs']:>5} "
              f"{d['duplicates']:>10} {d['requests']:>8} {d['peak']:>13} / {d['limit']:<3g} "
              f"{d['openings']:>14} {d['seconds']:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
