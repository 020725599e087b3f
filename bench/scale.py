"""Scale-out benchmark: the local and Ray executors side by side in one run.

    python bench/scale.py [--episodes 8] [--tasks 200] [--leak-scenes 10] [--parts 1,2,3]

1. Episode throughput: the same --episodes table-top episodes (same seeds, no rendering) through
   the episodes stage's `simulate_items` with 1 and 2 workers, local process pool vs Ray (a private
   Ray instance with num_cpus = workers), twice: the first run includes starting the workers;
   in the second Ray reuses its worker processes while the local pool starts new ones (as the
   episodes stage of the next scene in a batch would).
2. Overhead per task: --tasks no-op tasks through each executor with 2 workers; per-task time
   is wall time / tasks (the no-op is `operator.is_`, so only dispatch is measured). A bare
   `ray.get([f.remote() ...])` loop is the floor for Ray.
3. Load and leak check (`blueprint_pipeline.batch.leakcheck`): --leak-scenes synthetic scenes
   (1 episode each) run in parallel as one `run_batch` on Ray, --leak-rounds times in this driver
   process. After each round: open fds, live child processes (Ray's workers included), Ray
   progress actors, tracked Python objects, Ray object references the driver holds, RSS (and
   its private/shared split) and the heap in use. Round 1 is a warm-up (imports, Ray workers
   start); the verdict compares later rounds with its end, per round, against the limits in the
   module's docstring.
"""

from __future__ import annotations

import argparse
import operator
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from blueprint_pipeline.resilience.executors import open_pool
from blueprint_pipeline.batch.leakcheck import table
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.sim import stage as episodes_stage
from blueprint_pipeline.testing.tabletop import tabletop_scene, write_inputs


def _ray_init(num_cpus: int):
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 * 1024 * 1024)
    return ray


def _items(out: Path, count: int):
    write_inputs(str(out), *tabletop_scene())
    ctx = StageContext(manifest_url="", out_url=str(out), options=RunOptions(episodes=count, seed=1))
    return episodes_stage.plan_items(ctx, {tabletop_scene()[2].tasks[0].task_id: "pick_place"})


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
                results = episodes_stage.simulate_items(items, workers=workers, deadline_s=600, heartbeat_timeout_s=120,
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


def leak_check(root: Path, scenes: int, rounds: int):
    from blueprint_pipeline.batch.leakcheck import judge, run_rounds
    from blueprint_pipeline.batch.scenes import list_scenes
    from blueprint_pipeline.scene.synth import write_synthetic_manifest

    folder = root / "leak_scenes"
    folder.mkdir()
    for seed in range(1, scenes + 1):
        write_synthetic_manifest(str(folder / f"s{seed:02d}.json"), 10, seed)
    batch = list_scenes(str(folder))
    ray = _ray_init(2)
    rows = run_rounds(batch, str(root / "leak_out"), RunOptions(episodes=1, executor="ray"), rounds)
    ray.shutdown()
    return rows, judge(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--leak-scenes", type=int, default=10)
    ap.add_argument("--leak-rounds", type=int, default=5, help="round 1 is a warm-up; at least 4")
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
            rows3, verdict = leak_check(root, args.leak_scenes, args.leak_rounds)
            print(table(rows3))
            totals = rows3[-1].totals
            print(f"last round: {totals['cpu_s_per_scene']} CPU s per scene, "
                  f"{totals['episodes_per_cpu_hour']} episodes per CPU-hour")
            growth = ", ".join(f"{k} {v:+.2f}" for k, v in verdict.growth.items())
            print(f"growth per round after the warm-up: {growth}")
            print("verdict: no growth" if verdict.ok else "verdict: GROWTH: " + "; ".join(verdict.reasons))


if __name__ == "__main__":
    main()
