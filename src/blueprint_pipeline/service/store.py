"""Job state in SQLite (WAL journal) in the service's data folder.

One connection guarded by a lock: the service process is the only writer (job processes report
through files in their job folder), and SQLite's WAL mode makes each commit durable and lets
readers run alongside. A SIGKILL of the service loses at most the transaction in flight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = "queued", "running", "succeeded", "failed", "canceled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
TERMINAL = (SUCCEEDED, FAILED, CANCELED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    idempotency_key TEXT,
    request_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    scene_id TEXT,
    input_kind TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    pid_started_at REAL,
    progress TEXT NOT NULL DEFAULT '{}',
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    result_sha256 TEXT,
    result_bytes INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    output_url TEXT,
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
"""


@dataclass
class Job:
    id: str
    owner: str
    idempotency_key: str | None
    request_sha256: str
    state: str
    scene_id: str | None
    input_kind: str
    params: dict[str, Any]
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    pid: int | None = None
    pid_started_at: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    result_sha256: str | None = None
    result_bytes: int | None = None
    cancel_requested: bool = False
    output_url: str | None = None  # set when the service writes job outputs to BP_SERVICE_OUTPUT_URL

    def public(self) -> dict[str, Any]:
        """What the API shows (no owner, pid or request digest)."""
        return {
            "id": self.id,
            "state": self.state,
            "scene_id": self.scene_id,
            "input_kind": self.input_kind,
            "params": self.params,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempts": self.attempts,
            "progress": self.progress,
            "counts": self.counts,
            "error": self.error,
            "result": ({"sha256": self.result_sha256, "bytes": self.result_bytes}
                       if self.result_sha256 else None),
            "cancel_requested": self.cancel_requested,
            "output_url": self.output_url,
        }


_JSON_COLUMNS = ("params", "progress", "counts")


def _row_to_job(row: sqlite3.Row) -> Job:
    d = dict(row)
    for c in _JSON_COLUMNS:
        d[c] = json.loads(d[c])
    d["cancel_requested"] = bool(d["cancel_requested"])
    return Job(**d)


class JobStore:
    def __init__(self, db_path: str | Path):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(jobs)")}
        if "output_url" not in columns:  # a job store made before outputs could go to a bucket
            self._db.execute("ALTER TABLE jobs ADD COLUMN output_url TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def find_by_idempotency_key(self, owner: str, key: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?", (owner, key)).fetchone()
        return _row_to_job(row) if row else None

    def insert(self, job: Job) -> None:
        cols = [f for f in Job.__dataclass_fields__]
        values = [json.dumps(getattr(job, c)) if c in _JSON_COLUMNS else getattr(job, c) for c in cols]
        with self.transaction() as db:
            db.execute(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)

    def update(self, job_id: str, **changes: Any) -> None:
        changes["updated_at"] = time.time()
        cols = list(changes)
        values = [json.dumps(changes[c]) if c in _JSON_COLUMNS else changes[c] for c in cols]
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?", [*values, job_id])

    def transition(self, job_id: str, from_state: str, **changes: Any) -> bool:
        """Apply `changes` only if the job is still in `from_state`; True if it was."""
        changes["updated_at"] = time.time()
        cols = list(changes)
        values = [json.dumps(changes[c]) if c in _JSON_COLUMNS else changes[c] for c in cols]
        with self.transaction() as db:
            cur = db.execute(f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ? AND state = ?",
                             [*values, job_id, from_state])
            return cur.rowcount == 1

    def list_by_state(self, state: str, limit: int = 1000) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state = ? ORDER BY created_at LIMIT ?", (state, limit)).fetchall()
        return [_row_to_job(r) for r in rows]

    def list_for_owner(self, owner: str, limit: int = 100) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE owner = ? ORDER BY created_at DESC LIMIT ?", (owner, limit)).fetchall()
        return [_row_to_job(r) for r in rows]

    def all_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM jobs")}

    def count_by_state(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        counts = dict.fromkeys(STATES, 0)
        counts.update({r[0]: r[1] for r in rows})
        return counts

    def episodes_generated(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(json_extract(counts, '$.episodes_ok')), 0) FROM jobs").fetchone()
        return int(row[0])
