"""Resilience overheads and parallel speed-up, measured side by side in one run.

    .venv/bin/python bench/resilience.py

1. I/O-bound per-object calls (a local HTTP server answering after 50 ms) through CallPolicy
   and run_items: 1 thread vs 10 threads, with a high rate limit and with the default 10/s.
2. ProcessPool round trip for a trivial task vs calling it in-process.
3. Cost of one heartbeat() call (a store into shared memory) vs an empty Python call.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from blueprint_pipeline.resilience.partial import run_items
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.resilience.pool import ProcessPool

LATENCY_S = 0.05
N_OBJECTS = 40


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
