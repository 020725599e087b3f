"""Benchmarks of the simready and usd stages; prints Markdown tables measured in one run.

    .venv/bin/python bench/simready.py            # everything (about two minutes on 2 cores)
    .venv/bin/python bench/simready.py --quick    # smaller sizes, no sequential 20 s run

1. Table estimator throughput (objects/s).
2. USD authoring (object files + scene.usda) and validation for 100, 1,000, 10,000 objects.
3. Parallelism of the Gemini estimator against a local server answering after 200 ms:
   100 objects, sequential vs 10 workers at 60 requests/s, and 10 workers at the default
   10 requests/s; the peak rate the server saw in any 1 s window.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import httpx

from blueprint_pipeline.scene.records import Scene, SceneHeader, SceneObject, SimRole
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.testing.rates import max_in_window
from blueprint_pipeline.simready.gemini import GeminiEstimator, gemini_policy
from blueprint_pipeline.simready.stage import estimate_scene
from blueprint_pipeline.simready.table import TableEstimator
from blueprint_pipeline.usd.validate import validate_scene
from blueprint_pipeline.usd.writer import write_usd

KINDS = [
    ("mug", (0.08, 0.08, 0.10), SimRole.MANIPULABLE_OBJECT),
    ("bottle", (0.07, 0.07, 0.22), SimRole.MANIPULABLE_OBJECT),
    ("book", (0.16, 0.24, 0.03), SimRole.MANIPULABLE_OBJECT),
    ("apple", (0.08, 0.08, 0.08), SimRole.MANIPULABLE_OBJECT),
    ("cardboard box", (0.4, 0.4, 0.4), SimRole.CLUTTER),
    ("chair", (0.45, 0.5, 0.9), SimRole.INTERACTIVE),
    ("cabinet", (0.8, 0.5, 2.0), SimRole.STATIC),
    ("table", (1.2, 0.8, 0.75), SimRole.STATIC),
]


def make_scene(n: int) -> Scene:
    objs = []
    for i in range(n):
        cat, ext, role = KINDS[i % len(KINDS)]
        x, y = (i % 100) * 2.0, (i // 100) * 2.0
        objs.append(SceneObject(
            id=f"{cat.replace(' ', '_')}_{i}", name=cat, category=cat, sim_role=role,
            position_m=(x, y, ext[2] / 2), orientation_wxyz=(1.0, 0.0, 0.0, 0.0), extents_m=ext,
            aabb_min_m=(x - ext[0] / 2, y - ext[1] / 2, 0.0), aabb_max_m=(x + ext[0] / 2, y + ext[1] / 2, ext[2])))
    header = SceneHeader(scene_id=f"bench_{n}", manifest_version="1.0.0", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=n)
    return Scene(header=header, objects=tuple(objs))


def bench_table(n: int) -> tuple[int, float, float]:
    """(objects, wall seconds, CPU seconds of this process)."""
    scene = make_scene(n)
    est = TableEstimator()
    t0, c0 = time.perf_counter(), time.process_time()
    for obj in scene.objects:
        est.estimate(obj)
    return n, time.perf_counter() - t0, time.process_time() - c0


def bench_usd(n: int) -> tuple[int, float, float, float]:
    """(objects, write wall s, validate wall s, write CPU s)."""
    scene = make_scene(n)
    physics, _ = estimate_scene(scene, SimreadyConfig())
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), time.process_time()
        written = write_usd(os.path.join(d, "usd"), scene.header, list(scene.objects), physics)
        t1, c1 = time.perf_counter(), time.process_time()
        report = validate_scene(os.path.join(d, "usd", "scene.usda"), scene.header, list(scene.objects), physics,
                                written.names)
        t2 = time.perf_counter()
    if not report.ok:
        raise SystemExit(report.text())
    return n, t1 - t0, t2 - t1, c1 - c0


class ServerProcess:
    """The fake service in its own process, so its threads do not share our GIL, at raised
    priority, so it stamps arrivals when they arrive, not when a loaded machine gets round to it."""

    api_key = "test-key"

    def __enter__(self) -> ServerProcess:  # noqa: PYI034 - not subclassed
        self.proc = subprocess.Popen([sys.executable, "-m", "blueprint_pipeline.testing.fake_gemini",
                                      "--delay-s", "0.2", "--api-key", self.api_key, "--nice", "-10"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
        self.base_url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)

    def reset(self) -> None:
        httpx.get(f"{self.base_url}/_reset")

    def arrivals(self) -> list[float]:
        return httpx.get(f"{self.base_url}/_stats").json()["arrivals"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def bench_llm(server: ServerProcess, n: int, workers: int, rate_per_s: float) -> tuple[float, int, int, int]:
    """(seconds, peak requests in any 1 s window at the server, the same for our limiter's
    permits, objects answered by the LLM)."""
    server.reset()
    cfg = SimreadyConfig(estimator="gemini", gemini_base_url=server.base_url, workers=workers)
    policy = gemini_policy(rate_per_s, name=f"bench-{uuid.uuid4().hex}", failure_threshold=1000)
    permits: list[float] = []
    acquire = policy.limiter.acquire

    def recorded_acquire(*a, **kw):
        acquire(*a, **kw)
        permits.append(time.monotonic())

    policy.limiter.acquire = recorded_acquire
    est = GeminiEstimator(cfg, policy=policy, api_key=server.api_key)
    scene = make_scene(n)
    try:
        t0 = time.perf_counter()
        _, summary = estimate_scene(scene, cfg, estimator=est)
        seconds = time.perf_counter() - t0
    finally:
        est.close()
    return seconds, max_in_window(server.arrivals(), 1.0), max_in_window(permits, 1.0), summary["llm_objects"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    print(f"## simready / usd benchmark ({os.cpu_count()} cores)\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at start: {load:.1f} (wall times grow with other work on the machine; "
          "CPU seconds count this process only)\n")
    n, s, cpu = bench_table(5_000 if args.quick else 50_000)
    print("| table estimator | objects | wall s | objects/s (wall) | CPU s | objects per CPU-s | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(f"| mixed categories | {n:,} | {s:.2f} | {n / s:,.0f} | {cpu:.2f} | {n / cpu:,.0f} | >= 20,000/s |\n")

    print("| USD scene | objects | write wall s | write CPU s | validate wall s | write+validate wall s | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for count in ((100, 1_000) if args.quick else (100, 1_000, 10_000)):
        n, w, v, wc = bench_usd(count)
        target = "1,000 objects < 5 s" if count == 1_000 else ""
        print(f"| objects/*.usda + scene.usda | {n:,} | {w:.2f} | {wc:.2f} | {v:.2f} | {w + v:.2f} | {target} |")
    print()

    n = 100
    with ServerProcess() as server:
        rows = []
        if not args.quick:
            rows.append(("sequential (1 worker), limit 60/s", 1, 60.0))
        rows += [("10 workers, limit 60/s", 10, 60.0), ("10 workers, default limit 10/s", 10, 10.0)]
        results = {label: bench_llm(server, n, w, r) for label, w, r in rows}
    seq = results.get("sequential (1 worker), limit 60/s")
    print(f"| Gemini estimator, {n} objects, server answers after 200 ms | seconds | vs ideal | speed-up vs sequential "
          "| peak requests in 1 s at the server | peak permits in 1 s (client) | limit | LLM answers |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, w, r in rows:
        secs, peak, permits, llm = results[label]
        ideal_s = max(n * 0.2 / w, (n - 1) / r + 0.2)
        speed = f"{seq[0] / secs:.1f}x" if seq and w != 1 else ("1.0x" if w == 1 else "n/a")
        print(f"| {label} | {secs:.2f} | {secs / ideal_s:.2f}x of {ideal_s:.1f} s | {speed} | {peak} | {permits} "
              f"| {r:g}/s | {llm} |")


if __name__ == "__main__":
    main()
