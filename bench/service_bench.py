"""Side-by-side timings for the service and client (not a test; prints a table of ratios).

    python bench/service_bench.py

1. Safe extraction (`archive.safe_extract`: per-member checks, metered decompression,
   temporary folder + rename) against `tarfile.extractall(filter="data")` on the same archive.
2. Status calls through `ServiceClient` (call policy: limiter, breaker, retry wrapper) against a
   bare `httpx.Client`, on the same loopback server.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from service_helpers import API_KEY, ThreadedServer, auth, config_for

from blueprint_pipeline.client.api import ServiceClient
from blueprint_pipeline.archive import safe_extract, write_archive
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.worker import WorkerSettings


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_extract(work: Path) -> tuple[float, float, int]:
    src = work / "src"
    rng_bytes = os.urandom(1 << 20)
    for i in range(200):  # 200 files, 40 MiB, half compressible
        d = src / "dataset" / f"chunk-{i // 50:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file-{i:03d}.bin").write_bytes(rng_bytes[: 1 << 17] + bytes(1 << 17))
    archive = work / "a.tar.gz"
    write_archive(archive, src, ["dataset"])
    counter = iter(range(10**6))

    def ours():
        safe_extract(archive, work / f"ours-{next(counter)}")

    def stdlib():
        dest = work / f"std-{next(counter)}"
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(dest, filter="data")

    return best_of(3, ours), best_of(3, stdlib), archive.stat().st_size


def bench_status(work: Path, calls: int = 300) -> tuple[float, float]:
    app = create_app(config_for(work / "data", rate_limit_per_s=100_000.0,
                                worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv:
        policy = CallPolicy(f"bench-{uuid.uuid4().hex[:6]}", rate_per_s=100_000)
        with ServiceClient(srv.url, API_KEY, policy=policy) as client, httpx.Client() as raw:
            def through_client():
                for _ in range(calls):
                    client.list_jobs()

            def bare():
                for _ in range(calls):
                    raw.get(f"{srv.url}/v1/jobs", params={"limit": 50}, headers=auth()).raise_for_status()

            return best_of(3, through_client) / calls, best_of(3, bare) / calls


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bp-bench-"))
    try:
        ours_s, std_s, size = bench_extract(work)
        client_s, bare_s = bench_status(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'measurement':55s} {'ours':>10s} {'baseline':>10s} {'ratio':>7s}")
    print(f"{'extract 40 MiB / 200 files (%.1f MiB gz), s' % (size / 2**20):55s} "
          f"{ours_s:10.3f} {std_s:10.3f} {ours_s / std_s:7.2f}")
    print(f"{'GET /v1/jobs over loopback, ms per call':55s} {client_s * 1e3:10.2f} {bare_s * 1e3:10.2f} "
          f"{client_s / bare_s:7.2f}")
    print("baselines: tarfile.extractall(filter='data'); a bare httpx.Client without the call policy")


if __name__ == "__main__":
    main()
