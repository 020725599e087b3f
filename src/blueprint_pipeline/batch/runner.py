"""Run the whole pipeline on every scene of a batch; outputs under OUT/<scene_id>/.

Scenes run `parallel` at a time in driver threads (each through `runner.run_pipeline`, so
markers, skipping and journals are those of a single `blueprint run`); with the ray executor
their episodes fan out as Ray tasks over the whole cluster. A failing scene is recorded and the
others go on. `OUT/.batch.json` is rewritten atomically whenever a scene finishes, so a driver
that is killed leaves an accurate record, and rerunning the same command resumes: finished
stages are skipped by their markers, a half-done episodes stage resumes from its journal.

Cost figures: a scene's CPU seconds are the CPU time of its stages in the driver thread plus
the CPU time measured inside each of its episode tasks (process start-up and Ray's own
daemons are not included); episodes per CPU-hour divides the episodes simulated in this run by
that total.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from blueprint_pipeline import markers, storage
from blueprint_pipeline.batch.executors import pop_task_cpu_seconds, pop_task_nodes, task_cpu_seconds
from blueprint_pipeline.batch.memory import release_free_heap
from blueprint_pipeline.batch.scenes import BatchScene
from blueprint_pipeline.contract import EPISODES_SUMMARY, RunOptions, StageContext
from blueprint_pipeline.secrets.redact import redact

BATCH_MARKER = ".batch.json"
BATCH_SCHEMA = "blueprint.batch/1"


@dataclass
class SceneReport:
    scene_id: str
    manifest_url: str
    status: str = "pending"  # pending | running | ok | failed
    stages_run: list[str] = field(default_factory=list)
    stages_skipped: list[str] = field(default_factory=list)
    failed_stage: str | None = None
    error: str | None = None
    episodes: int = 0
    succeeded: int = 0
    episodes_simulated: int = 0  # simulated by this run (not taken from a journal)
    episode_failures: dict[str, int] = field(default_factory=dict)  # reason -> count (timeout, crashed, ...)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    task_nodes: dict[str, int] = field(default_factory=dict)  # Ray node id -> episodes finished there

    @property
    def episodes_per_cpu_hour(self) -> float | None:
        return self.episodes_simulated / (self.cpu_s / 3600) if self.cpu_s > 0 and self.episodes_simulated else None


@dataclass
class BatchReport:
    out_url: str
    executor: str
    scenes: list[SceneReport]
    wall_s: float = 0.0
    attempt: int = 1

    @property
    def ok(self) -> list[SceneReport]:
        return [s for s in self.scenes if s.status == "ok"]

    @property
    def failed(self) -> list[SceneReport]:
        return [s for s in self.scenes if s.status == "failed"]

    def totals(self) -> dict[str, Any]:
        cpu_s = sum(s.cpu_s for s in self.scenes)
        simulated = sum(s.episodes_simulated for s in self.scenes)
        return {
            "scenes": len(self.scenes), "scenes_ok": len(self.ok), "scenes_failed": len(self.failed),
            "episodes": sum(s.episodes for s in self.scenes), "episodes_succeeded": sum(s.succeeded for s in self.scenes),
            "episodes_simulated": simulated, "wall_s": round(self.wall_s, 3), "cpu_s": round(cpu_s, 3),
            "cpu_s_per_scene": round(cpu_s / len(self.scenes), 3) if self.scenes else None,
            "episodes_per_cpu_hour": round(simulated / (cpu_s / 3600), 1) if cpu_s > 0 and simulated else None,
        }


def marker_url(out_url: str) -> str:
    return storage.join(out_url, BATCH_MARKER)


def read_batch_marker(out_url: str) -> dict[str, Any] | None:
    try:
        doc = storage.read_json(marker_url(out_url))
    except (FileNotFoundError, json.JSONDecodeError, OSError):
        return None
    return doc if isinstance(doc, dict) and doc.get("schema") == BATCH_SCHEMA else None


def _write_marker(report: BatchReport, options: RunOptions, started_at: str, finished: bool) -> None:
    doc = {
        "schema": BATCH_SCHEMA, "status": "finished" if finished else "running",
        "executor": report.executor, "attempt": report.attempt, "started_at": started_at,
        "finished_at": markers.now_iso() if finished else None,
        "options": markers.json_safe(options), "totals": report.totals(),
        "scenes": [asdict(s) | {"episodes_per_cpu_hour": s.episodes_per_cpu_hour} for s in report.scenes],
        "environment": markers.environment(),
    }
    storage.atomic_write_json(marker_url(report.out_url), markers.redact_tree(markers.json_safe(doc)))


def _episode_counts(scene_out: str) -> tuple[int, int, dict[str, int]]:
    url = EPISODES_SUMMARY.url(scene_out)
    try:
        summary = storage.read_json(url)
        reasons = {str(k): int(v) for k, v in (summary.get("failure_reasons") or {}).items()}
        return int(summary.get("episodes", 0)), int(summary.get("succeeded", 0)), reasons
    except (FileNotFoundError, json.JSONDecodeError, OSError, AttributeError, ValueError, TypeError):
        return 0, 0, {}


def run_scene(scene: BatchScene, out_url: str, options: RunOptions, settings: Any, force: bool = False) -> SceneReport:
    """The whole pipeline on one scene; never raises for a scene's own failure."""
    from blueprint_pipeline.runner import run_pipeline

    scene_out = storage.join(out_url, scene.scene_id)
    rep = SceneReport(scene.scene_id, scene.manifest_url, status="running")
    tasks0, task_cpu0 = task_cpu_seconds(scene_out)
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    current: dict[str, str] = {}

    def observe(stage: str, event: str, outcome: object) -> None:
        if event == "start":
            current["stage"] = stage
        elif event == "ok":
            rep.stages_run.append(stage)
        elif event == "skipped":
            rep.stages_skipped.append(stage)

    ctx = StageContext(manifest_url=scene.manifest_url, out_url=scene_out, options=options, settings=settings)
    try:
        run_pipeline(ctx, force=force, observer=observe)
        rep.status = "ok"
    except Exception as exc:  # noqa: BLE001 - one scene's failure is recorded; the batch goes on
        rep.status = "failed"
        rep.failed_stage = current.get("stage")
        rep.error = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])[:500]
    tasks1, task_cpu1 = pop_task_cpu_seconds(scene_out)
    rep.task_nodes = pop_task_nodes(scene_out)
    rep.wall_s = time.perf_counter() - wall0
    rep.cpu_s = (time.thread_time() - cpu0) + (task_cpu1 - task_cpu0)
    rep.episodes_simulated = tasks1 - tasks0
    rep.episodes, rep.succeeded, rep.episode_failures = _episode_counts(scene_out)
    return rep


def open_usd_once() -> None:
    """Create USD's plugin registry and asset resolver on this thread, before scene threads start.

    Their first use is not safe from several Python threads: one thread builds the resolver
    inside a C++ static initialiser and, while building the plugin registry, gives up the GIL and
    waits to take it back; another thread holding the GIL blocks on that static initialiser. Both
    wait for ever (seen with 10 scenes in parallel reaching the usd stage together)."""
    from pxr import Sdf, Usd

    Usd.Stage.CreateInMemory()
    Sdf.Layer.CreateAnonymous(".usda")


def run_batch(scenes: list[BatchScene], out_url: str, options: RunOptions, settings: Any = None,
              parallel: int = 1, force: bool = False,
              on_scene: Callable[[SceneReport], None] | None = None) -> BatchReport:
    """Run every scene (`parallel` at a time); a record of each lands in OUT/.batch.json."""
    previous = read_batch_marker(out_url)
    report = BatchReport(out_url, options.executor,
                         [SceneReport(s.scene_id, s.manifest_url) for s in scenes],
                         attempt=int(previous.get("attempt", 0)) + 1 if previous else 1)
    by_id = {r.scene_id: i for i, r in enumerate(report.scenes)}
    started_at = markers.now_iso()
    lock = threading.Lock()
    t0 = time.perf_counter()
    _write_marker(report, options, started_at, finished=False)

    def one(scene: BatchScene) -> None:
        rep = run_scene(scene, out_url, options, settings, force=force)
        with lock:
            report.scenes[by_id[scene.scene_id]] = rep
            report.wall_s = time.perf_counter() - t0
            _write_marker(report, options, started_at, finished=False)
        if on_scene:
            on_scene(rep)

    threads = max(1, min(parallel, len(scenes)))
    if threads > 1:
        open_usd_once()
    if options.executor == "ray":
        # here, not in a scene thread: a local Ray instance's processes are killed when the thread
        # that started them ends (they are started with a parent-death signal, which Linux ties to
        # the thread), so Ray started by the first scene died with that scene and took the others
        from blueprint_pipeline.batch.cluster import connect

        connect()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scene") as pool:
        for fut in [pool.submit(one, s) for s in scenes]:
            fut.result()
    report.wall_s = time.perf_counter() - t0
    _write_marker(report, options, started_at, finished=True)
    if threads > 1:  # the scene threads' malloc arenas keep their freed memory (see batch.memory)
        release_free_heap()
    return report
