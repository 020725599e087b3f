"""Scale-out benchmark: the local and Ray executors side by side in one run.

    python bench/scale.py [--episodes 8] [--tasks 200] [--leak-scenes 10] [--parts 1,2,3]

1. Episode throughput: the same --episodes table-top episodes (same seeds, no rendering) through
   the episodes stage's `run_items` with 1 and 2 workers, local process pool vs Ray (a private
   Ray instance with num_cpus = workers), twice: the first run includes starting the workers;
   in the second Ray reuses its worker processes while the local pool starts new ones (as the
   episodes stage of the next scene in a batch would).
2. Overhead per task: --tasks no-op tasks through each executor with 2 workers; per-task time
   is wall time / tasks (the no-op is `operator.is_`, so only dispatch is measured). A bare
   `ray.get([f.remote() ...])` loop is the floor for Ray.
3. Load and leak check: --leak-scenes synthetic scenes (1 episode each) run in parallel as one
   `run_batch` on Ray, twice in this driver process; open file descriptors, live child
   processes (Ray's workers included), the driver's RSS and Ray's live actors are measured before
   and after each round. Growth from round 1's end to round 2's end would be a leak.
"""

from __future__ import annotations

import argparse
import gc
import operator
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

from blueprint_pipeline.batch.executors import open_pool
from blueprint_pipeline.pipeline import RunOptions, StageContext
from blueprint_pipeline.sim import stage as episodes_stage
from blueprint_pipeline.sim.tabletop import tabletop_scene, write_inputs


def _ray_init(num_cpus: int):
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 * 1024 * 1024)
    return ray


def _items(out: Path, count: int):
    write_inputs(str(out), *tabletop_scene())
    ctx = StageContext(manifest_url="", out_url=str(out), options=RunOptions(episodes=count, seed=1))
    return episodes_stage.plan_items(ctx, [tabletop_scene()[2].tasks[0]])


def throughput(root: Path, episodes: int) -> list[tuple[str, int, float, float, int]]:
    """(executor, workers, episodes/min of a first run, of a second run in the same driver, successes)."""
    rows = []
    for workers in (1, 2):
        for executor in ("local", "ray"):
            ray = _ray_init(workers) if executor == "ray" else None
            rates, ok = [], 0
            for attempt in ("first", "second"):
                items = _items(root / f"{executor}_{workers}_{attempt}", episodes)
                t0 = time.perf_counter()
                results = episodes_stage.run_items(items, workers=workers, deadline_s=600, heartbeat_timeout_s=120,
                                                   executor=executor)
                rates.append(episodes / (time.perf_counter() - t0) * 60)
                ok += sum(r["success"] for r in results)
                failures = Counter(f"{r['failure_reason']}: {r.get('message', '')[:200]}"
                                   for r in results if not r["success"])
                if failures:
                    print(f"{executor} x{workers} failures: {dict(failures)}")
            rows.append((executor, workers, rates[0], rates[1], ok))
            if ray:
                ray.shutdown()
    return rows


def overhead(tasks: int) -> list[tuple[str, float]]:
    rows = []
    with open_pool("local", 2, deadline_s=60) as pool:
        pool.map(operator.is_, range(2))  # start-up not counted
        t0 = time.perf_counter()
        pool.map(operator.is_, range(tasks))
        rows.append(("local pool", (time.perf_counter() - t0) / tasks))
    ray = _ray_init(2)
    with open_pool("ray", 2, deadline_s=60) as pool:
        pool.map(operator.is_, range(4))
        t0 = time.perf_counter()
        pool.map(operator.is_, range(tasks))
        rows.append(("ray pool (deadline + heartbeat board)", (time.perf_counter() - t0) / tasks))
    noop = ray.remote(lambda: None)
    ray.get([noop.remote() for _ in range(4)])
    t0 = time.perf_counter()
    ray.get([noop.remote() for _ in range(tasks)])
    rows.append(("bare ray.get(f.remote()), floor", (time.perf_counter() - t0) / tasks))
    ray.shutdown()
    return rows


def _snapshot() -> dict[str, float]:
    """Driver fds and RSS; live descendants, Ray worker processes among them (titled `ray::...`)
    and live progress-board actors (one per running scene; the state API needs the dashboard)."""
    gc.collect()
    me = psutil.Process()
    titles = []
    for child in me.children(recursive=True):
        try:
            titles.append(" ".join(child.cmdline()))
        except psutil.Error:
            continue
    return {"fds": me.num_fds(), "children": len(titles), "ray_workers": sum(t.startswith("ray::") for t in titles),
            "boards": sum("_ProgressBoard" in t for t in titles), "rss_mb": me.memory_info().rss / 2**20}


def leak_check(root: Path, scenes: int, rounds: int) -> list[tuple[str, dict[str, float], float, int]]:
    from blueprint_pipeline.batch.runner import run_batch
    from blueprint_pipeline.batch.scenes import list_scenes
    from blueprint_pipeline.scene.synth import write_synthetic_manifest

    folder = root / "leak_scenes"
    folder.mkdir()
    for seed in range(1, scenes + 1):
        write_synthetic_manifest(str(folder / f"s{seed:02d}.json"), 10, seed)
    batch = list_scenes(str(folder))
    ray = _ray_init(2)
    rows = [("before round 1", _snapshot(), 0.0, 0)]
    for n in range(1, rounds + 1):
        t0 = time.perf_counter()
        report = run_batch(batch, str(root / f"leak_out_{n}"), RunOptions(episodes=1, executor="ray"),
                           parallel=scenes)
        ok = len(report.ok)
        rows.append((f"after round {n}", _snapshot(), time.perf_counter() - t0, ok))
        totals = report.totals()
        print(f"round {n}: {ok}/{scenes} scenes ok, {totals['episodes_simulated']} episodes, "
              f"{totals['cpu_s_per_scene']} CPU s per scene, {totals['episodes_per_cpu_hour']} episodes per CPU-hour")
    ray.shutdown()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--leak-scenes", type=int, default=10)
    ap.add_argument("--leak-rounds", type=int, default=2)
    ap.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 3")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="bp-scale-") as tmp:
        root = Path(tmp)
        parts = set(args.parts.split(","))
        if "1" in parts:
            rows = throughput(root, args.episodes)
            local = {w: (a, b) for ex, w, a, b, _ in rows if ex == "local"}
            print(f"\n1. episodes per minute ({args.episodes} table-top episodes per run; the first run starts "
                  "the workers, the second runs in the same driver: Ray keeps its workers, the local pool starts anew)")
            print(f"{'executor':10s} {'workers':>7s} {'first run':>10s} {'second run':>11s} {'succeeded':>10s} "
                  f"{'vs local (1st, 2nd)':>20s}")
            for ex, w, a, b, ok in rows:
                print(f"{ex:10s} {w:7d} {a:10.1f} {b:11.1f} {ok:10d} {a / local[w][0]:9.2f} {b / local[w][1]:9.2f}")
        if "2" in parts:
            print(f"\n2. overhead per task ({args.tasks} no-op tasks, 2 workers, warm)")
            for name, per_task_s in overhead(args.tasks):
                print(f"{name:40s} {per_task_s * 1e3:8.2f} ms")
        if "3" in parts:
            print(f"\n3. load and leak check: {args.leak_scenes} scenes in parallel on Ray, "
                  f"{args.leak_rounds} rounds in one driver")
            rows3 = leak_check(root, args.leak_scenes, args.leak_rounds)
            print(f"{'when':16s} {'fds':>5s} {'children':>9s} {'ray workers':>12s} {'boards':>7s} {'RSS MB':>8s} "
                  f"{'round s':>8s}")
            for when, snap, secs, _ in rows3:
                print(f"{when:16s} {snap['fds']:5d} {snap['children']:9d} {snap['ray_workers']:12d} "
                      f"{snap['boards']:7d} {snap['rss_mb']:8.1f} {secs:8.1f}")


if __name__ == "__main__":
    main()
