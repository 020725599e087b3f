"""Starts queued jobs as separate processes, follows them, and recovers after a restart.

Each job runs `python -m blueprint_pipeline.service.job_process` in a new session (its own
process group), so cancel kills the job and every worker it started. The pid and its start
time are stored with the job; after a crash of the service, a job found 'running' has its
leftover processes killed and is queued again (completed stages skip, the episodes journal
resumes), unless it has already been started `max_attempts` times, in which case it is marked
failed with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from blueprint_pipeline.service import job_process
from blueprint_pipeline.service.store import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    JobStore,
)

log = logging.getLogger("blueprint.service")

_POLL_S = 0.2
_TERM_GRACE_S = 5.0


@dataclass(frozen=True)
class WorkerSettings:
    max_concurrent_jobs: int = 1  # 0: accept and queue jobs but run none (drills, tests)
    episode_workers: int = 2
    max_attempts: int = 3
    stage_pause_s: float = 0.0  # fault-injection drills only


class JobManager:
    def __init__(self, store: JobStore, jobs_dir: Path, settings: WorkerSettings):
        self.store = store
        self.jobs_dir = jobs_dir
        self.settings = settings
        self._procs: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="job-manager", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following jobs; running ones are stopped and stay 'running', to resume on restart."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for proc in self._procs.values():
            _kill_group(proc.pid, proc)
        self._procs.clear()

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def recover(self) -> None:
        """Called once at start: deal with jobs a previous service process left 'running'."""
        for job in self.store.list_by_state(RUNNING):
            if job.pid and _same_process(job.pid, job.pid_started_at):
                log.warning("job %s: killing leftover process group %d", job.id, job.pid)
                _kill_group(job.pid)
            if job.cancel_requested:
                self._finish(job.id, CANCELED, error="cancelled")
            elif job.attempts >= self.settings.max_attempts:
                self._finish(job.id, FAILED, error=(
                    f"the service stopped while the job ran, {job.attempts} times; not retried again"))
            else:
                log.warning("job %s: resuming after a service restart", job.id)
                self.store.update(job.id, state=QUEUED, pid=None, pid_started_at=None,
                                  progress={**job.progress, "note": "resumed after a service restart"})

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the manager must outlive any one bad job
                log.exception("job manager tick failed")
            self._stop.wait(_POLL_S)

    def _tick(self) -> None:
        for job_id, proc in list(self._procs.items()):
            job = self.store.get(job_id)
            if proc.poll() is None:
                if job and job.cancel_requested:
                    _kill_group(proc.pid, proc)
                elif job:
                    self._read_progress(job)
                continue
            del self._procs[job_id]
            self._reap(job_id, proc.returncode)
        free = self.settings.max_concurrent_jobs - len(self._procs)
        if free > 0:
            for job in self.store.list_by_state(QUEUED, limit=free):
                self._launch(job)

    def _launch(self, job: Job) -> None:
        # Claim first: a cancel that lands meanwhile finds the job 'running' and is honoured.
        if not self.store.transition(job.id, QUEUED, state=RUNNING, attempts=job.attempts + 1,
                                     started_at=job.started_at or time.time()):
            return
        d = self.job_dir(job.id)
        try:
            spec = json.loads((d / job_process.JOB_FILE).read_text())
            spec.update(workers=self.settings.episode_workers, stage_pause_s=self.settings.stage_pause_s)
            (d / job_process.JOB_FILE).write_text(json.dumps(spec))
            (d / job_process.OUTCOME_FILE).unlink(missing_ok=True)
            with open(d / "job.log", "ab") as log_file:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "blueprint_pipeline.service.job_process", str(d), str(os.getpid())],
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self._finish(job.id, FAILED, error=f"could not start the job process: {exc}")
            return
        self._procs[job.id] = proc
        self.store.update(job.id, pid=proc.pid, pid_started_at=_start_time(proc.pid))

    def _read_progress(self, job: Job) -> None:
        try:
            progress = json.loads((self.job_dir(job.id) / job_process.PROGRESS_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return
        if "note" in job.progress:  # e.g. "resumed after a service restart" stays visible
            progress = {**progress, "note": job.progress["note"]}
        if progress != job.progress:
            self.store.update(job.id, progress=progress)

    def _reap(self, job_id: str, returncode: int) -> None:
        job = self.store.get(job_id)
        if job is None:
            return
        self._read_progress(job)
        try:
            outcome = json.loads((self.job_dir(job_id) / job_process.OUTCOME_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            outcome = None
        if outcome and outcome.get("status") == "succeeded":  # finished before a cancel could land
            self._finish(job_id, SUCCEEDED, counts=outcome["counts"],
                         result_sha256=outcome["result_sha256"], result_bytes=outcome["result_bytes"])
        elif job.cancel_requested:
            self._finish(job_id, CANCELED, error="cancelled")
        elif outcome is None:
            how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
            self._finish(job_id, FAILED, error=f"the job process ended without a result ({how})")
        else:
            self._finish(job_id, FAILED, error=outcome.get("error") or "the pipeline failed")

    def _finish(self, job_id: str, state: str, **changes) -> None:
        self.store.update(job_id, state=state, finished_at=time.time(), pid=None, pid_started_at=None, **changes)


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _same_process(pid: int, started_at: float | None) -> bool:
    """True if `pid` is still the process we started (pids are reused)."""
    t = _start_time(pid)
    return t is not None and started_at is not None and abs(t - started_at) < 0.01


def _kill_group(pgid: int, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM the job's process group, then SIGKILL what is left after a grace period.
    `proc`: our own child leading the group, reaped here so its zombie does not count as alive."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + _TERM_GRACE_S
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait(timeout=10)
