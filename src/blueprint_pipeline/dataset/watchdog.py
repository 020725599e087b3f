"""Video datasets are written in a child process that must keep making progress, and restarted if not.

Why: SVT-AV1, the AV1 encoder behind FFmpeg's libsvtav1, occasionally deadlocks inside
`svt_av1_enc_send_picture`: every encoder thread waits, the CPU idles and the call never returns
(seen here three times in some 200 encodes of 12,000 128x128 frames, more often on a loaded
machine; upstream reports similar hangs since 3.1). A thread stuck in C cannot be interrupted,
so a dataset with cameras is written by one worker of `resilience.pool.ProcessPool`, which
beats a heartbeat after every episode and is SIGKILLed once it has been silent for `stall_s`. The staging folder is then
emptied and the dataset written again from the episode files, up to `ATTEMPTS` times; each
restart is logged and counted in the stage summary. Datasets without cameras never start the
encoder and are written in the calling process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from blueprint_pipeline.dataset.writer import WriterOptions
from blueprint_pipeline.errors import (
    InternalError,
    InvalidInputError,
    StageTimeoutError,
)
from blueprint_pipeline.resilience.pool import ERROR, TIMEOUT, ProcessPool

log = logging.getLogger(__name__)

ATTEMPTS = 3


@dataclass(frozen=True)
class WriteJob:
    episodes_dir_url: str
    staging: str
    options: WriterOptions
    keep_failed: bool
    parent_pid: int = field(default_factory=os.getpid)  # the process waiting for the dataset
    progress_file: str | None = None  # "<done> <total>" after every episode file, for the parent


def progress_path(staging: Path) -> Path:
    return staging.with_name(staging.name + ".progress")


def _parent_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_in_worker(job: WriteJob, heartbeat) -> tuple[dict, dict]:
    """Pool task: the dataset into `job.staging`, a heartbeat per episode file. Stops when the
    process that asked for it has died, so an orphan never writes into a staging folder that the
    next run has taken over."""
    from blueprint_pipeline.dataset.from_episodes import write_dataset

    def beat(done: int, total: int, *_: object) -> None:
        if not _parent_alive(job.parent_pid):
            raise SystemExit("the pipeline process that asked for this dataset has exited")
        heartbeat()
        if job.progress_file:
            Path(job.progress_file).write_text(f"{done} {total}")

    return write_dataset(job.episodes_dir_url, Path(job.staging), job.options, job.keep_failed, progress=beat)


@contextlib.contextmanager
def _relay_progress(job: WriteJob, progress, every_s: float = 0.5):
    """While the worker writes, pass the episode count it reports in `job.progress_file` on to
    `progress` (from a thread: the pool's wait holds this one)."""
    if not (progress and job.progress_file):
        yield
        return
    path, stop = Path(job.progress_file), threading.Event()

    def relay() -> None:
        while not stop.wait(every_s):
            try:
                done, total = (int(v) for v in path.read_text().split())
            except (OSError, ValueError):  # not written yet, or caught mid-write
                continue
            progress(done, total, "episodes written")

    thread = threading.Thread(target=relay, name="dataset-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        path.unlink(missing_ok=True)


def write_dataset_watched(job: WriteJob, stall_s: float, progress=None, task=write_in_worker) -> tuple[dict, dict]:
    """`from_episodes.write_dataset` in a worker process, restarted when it stalls; (info, summary).
    `task(job, heartbeat)` is the pool task (tests give one that stalls)."""
    staging = Path(job.staging)
    for attempt in range(1, ATTEMPTS + 1):
        if staging.exists():
            shutil.rmtree(staging)
        with ProcessPool(1, deadline_s=None, heartbeat_timeout_s=stall_s) as pool, _relay_progress(job, progress):
            result = next(pool.imap(task, [job]))
        if result.ok:
            info, summary = result.value
            summary["write_attempts"] = attempt
            if progress:
                progress(summary["episode_files"], summary["episode_files"], "episodes written")
            return info, summary
        if result.status == ERROR and result.error_type == InvalidInputError.__name__:
            raise InvalidInputError(result.message)
        if result.status != TIMEOUT:
            raise InternalError(f"the dataset writer failed ({result.status}): {result.message}")
        log.warning("dataset write stalled for %.0f s (attempt %d of %d); the AV1 encoder is known to "
                    "deadlock now and then: restarting from the episode files", stall_s, attempt, ATTEMPTS)
    raise StageTimeoutError(f"the dataset writer stalled {ATTEMPTS} times (no episode finished within {stall_s:.0f} s); "
                     "raise BP_DATASET_STALL_TIMEOUT_S or set BP_VIDEO_CODEC=h264")
