"""The load and leak check (the design document's load test): the same batch of scenes run
round after round in one driver process, with what the driver holds measured after each round.

    rounds = run_rounds(scenes, out_root, RunOptions(episodes=1, executor="ray"), rounds=4)
    verdict = judge(rounds)          # verdict.ok, verdict.reasons, verdict.growth

Each `Snapshot` is taken after `gc.collect()`. Memory is read three ways, so a growth can be told
apart: `rss_mb` is the driver's resident memory as the OS sees it (what the issue measures);
`heap_mb` is what glibc malloc has handed out and not got back plus what Arrow's pool holds, i.e.
live native and Python allocations, whatever the allocator keeps cached; `py_objects` counts the
objects Python's garbage collector tracks. RSS also splits into private memory (`anon_mb`) and
shared memory (`shmem_mb`: pages of Ray's object store the driver has read).

Round 1 is a warm-up and is not judged: it imports the stages' libraries (USD, MuJoCo, Arrow,
PyAV, Matplotlib), starts Ray's worker processes and fills caches meant to live as long as the
process (RSS goes from 105-180 MB, depending on what the caller imported, to 450-500 MB).
`judge` compares the end of each later round with the end of round 1 (at least 3 judged rounds,
so a creep shows as a trend) and passes when, per judged round on average from the end of
round 1 to the end of the last round:

- open file descriptors, live child processes other than Ray's workers, and Ray progress actors
  never exceed round 1's; Ray's worker processes (`ray::...`) exceed it by at most RAY_WORKER_SLACK
  (Ray sizes its idle worker pool itself; counted with every other child, the driver's children
  once went from 11 to 12 in round 4 of 4 in a CI run; a worker kept alive by a leaked actor
  shows as a progress actor). Open files went 67, 69, 69, 71 in another CI run: matplotlib
  opened its font files again on each new scene thread, until the report drew every figure on
  one thread of its own (`report.plots`);
- the driver holds no Ray object references after any round;
- tracked Python objects grow by fewer than 200 (before the fix it was 772: Ray's wrapper
  classes of one pool per scene; a few caches, e.g. the regex cache, settle in the first rounds);
- `heap_mb` grows by less than 2 MB in the median round-to-round step (measured after the fix:
  0.4 MB for 10 scenes; with the local executor, one scene at a time, 35 KB a scene: native memory
  of the stages' libraries, not Ray's). The median, not the mean from round 1 to the last: in one
  CI run the steps were 0.3, 0.5 and then 64.4 MB in the last round while RSS moved 0.6 MB a
  round, i.e. one 64 MB block allocated and not yet touched (a transient buffer of a background
  thread at the moment of the snapshot), which a mean over 3 rounds read as a 21.7 MB/round leak;
- `rss_mb` grows by less than 10 MB a round by at least one of two measures: the median
  round-to-round step, and the least-squares slope through the ends of the judged rounds. RSS
  moves by up to about 20 MB either way from one round to the next, as Python's and glibc's free
  lists are reused differently. A steady leak moves both measures; noise moves one: in a CI run
  RSS went 517.7, 504.7, 514.8, 531.5 MB (steps -13.0, +10.1, +16.7: a median of 10.1) while
  `heap_mb` grew 0.4 MB a round and the slope was 5.2 MB a round.

`run_batch` returns glibc's free heap pages to the OS when a batch ends (`memory.release_free_heap`):
without that, RSS stayed 20-50 MB higher after a round of 10 scenes, kept in the arenas of the
batch's scene threads. That is a mitigation of the allocator's caching, not the fix of a leak; `heap_mb` is not
affected by it.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.batch.memory import heap_in_use_mb
from blueprint_pipeline.batch.runner import run_batch
from blueprint_pipeline.batch.scenes import BatchScene
from blueprint_pipeline.contract import RunOptions

MAX_OBJECTS_PER_ROUND = 200
MAX_HEAP_MB_PER_ROUND = 2.0
MAX_RSS_MB_PER_ROUND = 10.0
MIN_JUDGED_ROUNDS = 3
RAY_WORKER_SLACK = 2  # Ray worker processes beyond round 1's (Ray sizes its idle pool itself)


def driver_object_refs() -> int:
    """Ray object references this driver still holds (0 without Ray or before ray.init)."""
    try:
        import ray
    except ImportError:
        return 0
    if not ray.is_initialized():
        return 0
    return len(ray._private.worker.global_worker.core_worker.get_all_reference_counts())


def rss_parts_mb() -> dict[str, float]:
    """Linux's split of this process's RSS: private memory (RssAnon), mapped files (RssFile) and
    shared memory (RssShmem, e.g. pages of Ray's object store the driver has read); {} elsewhere."""
    try:
        with open("/proc/self/status") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    parts = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile", "RssShmem"):
            parts[name] = int(value.split()[0]) / 1024
    return parts


@dataclass
class Snapshot:
    fds: int
    children: int
    ray_workers: int
    boards: int
    threads: int
    py_objects: int
    driver_refs: int
    rss_mb: float
    heap_mb: float | None  # None off glibc
    anon_mb: float | None  # None off Linux
    shmem_mb: float | None


def snapshot() -> Snapshot:
    """What this process holds now (after gc.collect())."""
    import psutil

    gc.collect()
    me = psutil.Process()
    titles = []
    for child in me.children(recursive=True):
        try:
            titles.append(" ".join(child.cmdline()))
        except psutil.Error:
            continue
    parts = rss_parts_mb()
    return Snapshot(fds=me.num_fds(), children=len(titles), ray_workers=sum(t.startswith("ray::") for t in titles),
                    boards=sum("_ProgressBoard" in t for t in titles), threads=threading.active_count(),
                    py_objects=len(gc.get_objects()), driver_refs=driver_object_refs(),
                    rss_mb=me.memory_info().rss / 2**20, heap_mb=heap_in_use_mb(),
                    anon_mb=parts.get("RssAnon"), shmem_mb=parts.get("RssShmem"))


@dataclass
class Round:
    label: str
    after: Snapshot
    wall_s: float = 0.0
    cpu_s: float = 0.0
    scenes_ok: int = 0
    totals: dict[str, Any] = field(default_factory=dict)


def run_rounds(scenes: list[BatchScene], out_root: str, options: RunOptions, rounds: int,
               parallel: int | None = None) -> list[Round]:
    """`rounds` batches of `scenes` (all in parallel unless told), each into its own folder."""
    result = [Round("before round 1", snapshot())]
    for n in range(1, rounds + 1):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        report = run_batch(scenes, storage.join(out_root, f"round_{n}"), options, parallel=parallel or len(scenes))
        wall_s, cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
        scenes_ok, totals = len(report.ok), report.totals()
        del report
        result.append(Round(f"after round {n}", snapshot(), wall_s, cpu_s, scenes_ok, totals))
    return result


@dataclass
class Verdict:
    ok: bool
    reasons: list[str]
    growth: dict[str, float]  # per judged round (objects: mean from the end of round 1; memory: median step)


def judge(rounds: list[Round]) -> Verdict:
    """Apply the module docstring's rules to `run_rounds`' output (round 1 is the warm-up)."""
    after = [r.after for r in rounds[1:]]
    if len(after) < 1 + MIN_JUDGED_ROUNDS:
        raise ValueError(f"need a warm-up round and at least {MIN_JUDGED_ROUNDS} judged rounds, got {len(after)}")
    base, last, judged = after[0], after[-1], len(after) - 1
    reasons = []
    counts = {"fds": lambda s: s.fds, "children other than Ray workers": lambda s: s.children - s.ray_workers,
              "boards": lambda s: s.boards}
    for name, count in counts.items():
        worst = max(count(s) for s in after[1:])
        if worst > count(base):
            reasons.append(f"{name} grew from {count(base)} after the warm-up to {worst}")
    worst_ray = max(s.ray_workers for s in after[1:])
    if worst_ray > base.ray_workers + RAY_WORKER_SLACK:
        reasons.append(f"Ray workers grew from {base.ray_workers} after the warm-up to {worst_ray} "
                       f"(more than {RAY_WORKER_SLACK} more)")
    if any(s.driver_refs for s in after):
        reasons.append(f"the driver holds Ray object references: {[s.driver_refs for s in after]}")
    rss = [s.rss_mb for s in after]
    growth = {"py_objects": (last.py_objects - base.py_objects) / judged,
              "rss_mb": min(_median_step(rss), _slope(rss))}
    heaps = [s.heap_mb for s in after]
    if all(h is not None for h in heaps):
        growth["heap_mb"] = _median_step(heaps)
    limits = {"py_objects": MAX_OBJECTS_PER_ROUND, "heap_mb": MAX_HEAP_MB_PER_ROUND, "rss_mb": MAX_RSS_MB_PER_ROUND}
    for name, per_round in growth.items():
        if per_round >= limits[name]:
            reasons.append(f"{name} grew {per_round:.1f} per round over {judged} rounds (limit {limits[name]})")
    return Verdict(not reasons, reasons, growth)


def _median_step(values: list[float]) -> float:
    """The median of the round-to-round changes: a steady leak moves every step, one transient
    allocation (or one reuse of the allocator's free lists) moves one."""
    return statistics.median(b - a for a, b in zip(values, values[1:]))


def _slope(values: list[float]) -> float:
    """The least-squares change per round through all the values: the trend of the whole run."""
    return statistics.linear_regression(range(len(values)), values).slope


def _mb(value: float | None, width: int = 7) -> str:
    return f"{value:{width}.1f}" if value is not None else "-".rjust(width)


def table(rounds: list[Round]) -> str:
    head = (f"{'when':15s} {'fds':>4s} {'children':>8s} {'boards':>6s} {'threads':>7s} {'objects':>8s} {'refs':>4s} "
            f"{'RSS MB':>7s} {'heap MB':>7s} {'anon MB':>7s} {'shm MB':>7s} {'wall s':>6s} {'CPU s':>6s} {'ok':>3s}")
    lines = [head]
    for r in rounds:
        s = r.after
        lines.append(f"{r.label:15s} {s.fds:4d} {s.children:8d} {s.boards:6d} {s.threads:7d} {s.py_objects:8d} "
                     f"{s.driver_refs:4d} {s.rss_mb:7.1f} {_mb(s.heap_mb)} {_mb(s.anon_mb)} {_mb(s.shmem_mb)} "
                     f"{r.wall_s:6.1f} {r.cpu_s:6.1f} {r.scenes_ok:3d}")
    return "\n".join(lines)
