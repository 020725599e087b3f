"""One job's pipeline run, in its own process (and process group), so that cancelling it can
kill it and everything it started, and a crash of the service does not corrupt it.

    python -m blueprint_pipeline.service.job_process JOB_DIR

Reads JOB_DIR/job.json, runs the pipeline with its outputs under JOB_DIR/out, or under the job's
`out_url` when the service writes outputs to a bucket (BP_SERVICE_OUTPUT_URL) — stages whose
.complete.json matches are skipped, so a rerun after a restart resumes, and the run holds the
output folder's lock there as anywhere — reports progress in JOB_DIR/progress.json, builds
JOB_DIR/result.tar.gz (dataset/, report/ and job.json) and writes JOB_DIR/outcome.json last.
Exits on its own if the service that started it dies.

With a bucket output the archive is built from a copy of dataset/ and report/ downloaded into
JOB_DIR/result_src (removed afterwards): the archive is then exactly what the bucket holds, and
`GET /v1/jobs/{id}/result` works the same for both kinds of output.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.contract import RunOptions, StageContext

JOB_FILE = "job.json"
PROGRESS_FILE = "progress.json"
OUTCOME_FILE = "outcome.json"
RESULT_FILE = "result.tar.gz"
OUT_DIR = "out"
RESULT_SRC_DIR = "result_src"  # bucket outputs: the local copy the archive is built from
RESULT_MEMBERS = ("dataset", "report")


def _watch_parent(parent_pid: int) -> None:
    """Kill our process group when the service dies: a restarted service reruns the job, and two
    runs must never write the same folder at once."""
    while True:
        if os.getppid() != parent_pid:
            os.killpg(os.getpgid(0), signal.SIGKILL)
        time.sleep(0.5)


class _Progress:
    """Writes progress.json atomically, at most every 0.5 s unless forced."""

    def __init__(self, path: Path, stages: list[str]):
        self.path = path
        self.state: dict[str, Any] = {"stages_total": len(stages), "stages_done": 0, "stage": None,
                                      "done": 0, "total": None, "what": ""}
        self._last = 0.0

    def update(self, force: bool = False, **changes: Any) -> None:
        self.state.update(changes)
        now = time.monotonic()
        if force or now - self._last >= 0.5:
            self._last = now
            storage.atomic_write_json(str(self.path), self.state)

    def callback(self, done: int, total: int | None, what: str) -> None:
        self.update(done=done, total=total, what=what)


def run_options(params: dict[str, Any], workers: int | None = None) -> RunOptions:
    """A job's run options from its request parameters (checked by `RunOptions.create`)."""
    return RunOptions.create(robot=params["robot"], episodes=params.get("episodes"), render=params["render"],
                             seed=params["seed"], workers=workers, prefix="", image_size=params.get("image_size", 128),
                             visual_randomization=params.get("visual_randomization", True),
                             shadows=params.get("shadows", False))


def run_job(job_dir: Path) -> dict[str, Any]:
    from blueprint_pipeline import pipeline
    from blueprint_pipeline.archive import write_archive
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.logs import setup_logging
    from blueprint_pipeline.runner import run_pipeline

    settings = get_settings()
    setup_logging(json_lines=settings.log_json, level=settings.log_level)  # into the job's job.log
    spec = json.loads((job_dir / JOB_FILE).read_text())
    params = spec["params"]
    options = run_options(params, workers=spec.get("workers", 2))
    stage_names = [s.name for s in pipeline.STAGES]
    progress = _Progress(job_dir / PROGRESS_FILE, stage_names)
    out_url = spec.get("out_url") or str(job_dir / OUT_DIR)
    ctx = StageContext(manifest_url=str(job_dir / spec["manifest"]), out_url=out_url,
                       options=options, settings=settings, progress=progress.callback)
    stage_outcomes: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(stage_names):
        progress.update(force=True, stage=name, stages_done=i, done=0, total=None, what="")
        # One stage at a time, for progress reporting; the runner still skips completed stages.
        for o in run_pipeline(ctx, only=name):
            stage_outcomes[o.stage] = {
                "status": o.status, "seconds": round(o.seconds, 3),
                "items_ok": o.result.items_ok if o.result else None,
                "items_failed": o.result.items_failed if o.result else None,
            }
        progress.update(force=True, stages_done=i + 1)
        pause_s = float(spec.get("stage_pause_s", 0.0))
        if pause_s:  # fault-injection drills only: widens the window for a kill between stages
            time.sleep(pause_s)
    progress.update(force=True, stage=None, stages_done=len(stage_names))

    episodes = stage_outcomes.get("episodes", {})
    counts = {"stages": stage_outcomes,
              "episodes_ok": episodes.get("items_ok") or 0,
              "episodes_failed": episodes.get("items_failed") or 0}
    summary = {"job_id": job_dir.name, "params": params, "counts": counts}
    storage.atomic_write_json(storage.join(out_url, "job.json"), summary)
    members = [*RESULT_MEMBERS, "job.json"]
    if storage.is_local(out_url):
        sha256, size = write_archive(job_dir / RESULT_FILE, storage.local_path(out_url), members)
    else:
        sha256, size = _archive_from_bucket(job_dir, out_url, members)
    return {"status": "succeeded", "counts": counts, "result_sha256": sha256, "result_bytes": size}


def _archive_from_bucket(job_dir: Path, out_url: str, members: list[str]) -> tuple[str, int]:
    """Download `members` of `out_url` into JOB_DIR/result_src, archive them, remove the copy."""
    from blueprint_pipeline.archive import write_archive

    staging = job_dir / RESULT_SRC_DIR
    shutil.rmtree(staging, ignore_errors=True)  # a copy left by a killed attempt
    try:
        for name in members:  # a member the run did not make is skipped, as for a local output
            storage.download_tree(storage.join(out_url, name), storage.safe_join(str(staging), name))
        return write_archive(job_dir / RESULT_FILE, staging, members)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str]) -> int:
    job_dir = Path(argv[0]).resolve()
    threading.Thread(target=_watch_parent, args=(int(argv[1]),), daemon=True).start()
    try:
        outcome = run_job(job_dir)
        code = 0
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a reason in outcome.json
        from blueprint_pipeline.secrets.redact import redact

        text = f"{type(exc).__name__}: {exc}".replace(f"{job_dir}/", "")  # no server paths for callers
        outcome = {"status": "failed", "error": redact(text)[:4000]}
        code = 1
    storage.atomic_write_json(str(job_dir / OUTCOME_FILE), outcome)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
