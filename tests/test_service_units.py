"""Service building blocks without HTTP: keys, ids, the job store, fault settings, recovery."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil
import pytest

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.service.auth import KeyRateLimiter, KeyRing, hash_key, key_id
from blueprint_pipeline.service.faults import FaultConfig
from blueprint_pipeline.service.ids import is_valid_job_id, new_job_id
from blueprint_pipeline.service.store import FAILED, QUEUED, RUNNING, Job, JobStore
from blueprint_pipeline.service.worker import JobManager, WorkerSettings


def make_job(job_id: str, owner: str = "owner1", idem: str | None = None, state: str = QUEUED, **kw) -> Job:
    now = time.time()
    return Job(id=job_id, owner=owner, idempotency_key=idem, request_sha256="ab" * 32, state=state,
               scene_id="s", input_kind="manifest", params={"seed": 0}, created_at=now, updated_at=now, **kw)


def test_key_ring_identifies_only_configured_keys():
    ring = KeyRing([hash_key("alpha-key"), hash_key("beta-key").upper()])
    assert ring.identify("alpha-key") == key_id(hash_key("alpha-key"))
    assert ring.identify("beta-key") == key_id(hash_key("beta-key"))
    for bad in (None, "", "alpha-ke", "alpha-key ", hash_key("alpha-key")):
        assert ring.identify(bad) is None
    with pytest.raises(ValueError, match="64 hex"):
        KeyRing(["not-a-hash"])


def test_rate_limiter_refills_and_reports_the_wait():
    limiter = KeyRateLimiter(rate_per_s=10.0, burst=2)
    assert limiter.acquire("k") == 0.0 and limiter.acquire("k") == 0.0
    wait_s = limiter.acquire("k")
    assert 0.0 < wait_s <= 0.1
    assert limiter.acquire("other") == 0.0  # buckets are per key
    time.sleep(wait_s + 0.01)
    assert limiter.acquire("k") == 0.0


def test_job_ids():
    job_id = new_job_id()
    assert is_valid_job_id(job_id) and job_id != new_job_id()
    for bad in ("", "../" + job_id[3:], job_id.upper(), job_id + "0", job_id[:-1] + "g", None):
        assert not is_valid_job_id(bad)


def test_store_keeps_one_job_per_idempotency_key_and_survives_reopen(tmp_path):
    import sqlite3

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.insert(make_job("a" * 32, idem="key-1"))
    with pytest.raises(sqlite3.IntegrityError):
        store.insert(make_job("b" * 32, idem="key-1"))
    store.insert(make_job("c" * 32, owner="owner2", idem="key-1"))  # keys are per owner
    store.insert(make_job("d" * 32))
    store.insert(make_job("e" * 32))  # no key: any number of jobs
    assert store.find_by_idempotency_key("owner1", "key-1").id == "a" * 32
    assert store.transition("a" * 32, QUEUED, state=RUNNING)
    assert not store.transition("a" * 32, QUEUED, state=RUNNING)
    store.update("a" * 32, progress={"stage": "scene"}, counts={"episodes_ok": 7})
    store.close()
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    job = reopened.get("a" * 32)
    assert job.state == RUNNING and job.progress == {"stage": "scene"}
    assert reopened.count_by_state()[QUEUED] == 3 and reopened.episodes_generated() == 7
    assert reopened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_job_store_made_before_output_urls_gains_the_column_and_keeps_its_jobs(tmp_path):
    import sqlite3

    from blueprint_pipeline.service import store as store_module

    old_schema = store_module._SCHEMA.replace("    output_url TEXT,\n", "")
    assert old_schema != store_module._SCHEMA
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    db.executescript(old_schema)
    db.execute("INSERT INTO jobs (id, owner, request_sha256, state, input_kind, params, created_at, updated_at) "
               "VALUES (?, 'owner1', 'x', 'queued', 'manifest', '{}', 1.0, 1.0)", ("a" * 32,))
    db.commit()
    db.close()
    store = JobStore(tmp_path / "jobs.sqlite3")
    assert store.get("a" * 32).output_url is None and store.get("a" * 32).public()["output_url"] is None
    store.insert(make_job("b" * 32))
    store.update("b" * 32, output_url="s3://bucket/jobs/" + "b" * 32)
    assert store.get("b" * 32).public()["output_url"] == "s3://bucket/jobs/" + "b" * 32


def test_fault_config_parsing():
    cfg = FaultConfig.parse("seed=7, p503=0.3,p429=0.1,pstall=0.05,stall_s=2,retry_after_s=3")
    assert (cfg.seed, cfg.p503, cfg.p429, cfg.pstall, cfg.stall_s, cfg.retry_after_s) == (7, 0.3, 0.1, 0.05, 2.0, 3)
    with pytest.raises(InvalidInputError, match="unknown entry"):
        FaultConfig.parse("p500=0.1")
    with pytest.raises(InvalidInputError, match="must be a number"):
        FaultConfig.parse("p503=lots")
    with pytest.raises(InvalidInputError, match="sum"):
        FaultConfig.parse("p503=0.7,p429=0.5")


def test_recovery_kills_leftovers_and_requeues_or_fails(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    # A leftover job process from a dead service: a real process in its own session.
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        started = psutil.Process(leftover.pid).create_time()
        store.insert(make_job("a" * 32, state=RUNNING, attempts=1, pid=leftover.pid, pid_started_at=started,
                              progress={"stage": "episodes"}))
        store.insert(make_job("b" * 32, state=RUNNING, attempts=3))
        # Same pid number but another start time: not ours, must not be killed.
        store.insert(make_job("c" * 32, state=RUNNING, attempts=1, pid=leftover.pid, pid_started_at=started - 100))
        # In real life the leftover is not our child; reap it here so it does not linger as a zombie.
        reaper = threading.Thread(target=leftover.wait, daemon=True)
        reaper.start()
        manager = JobManager(store, tmp_path / "jobs", WorkerSettings(max_attempts=3))
        manager.recover()
        reaper.join(timeout=30)
        assert leftover.returncode is not None  # killed
    finally:
        if leftover.poll() is None:
            leftover.kill()
    a, b, c = (store.get(x * 32) for x in "abc")
    assert a.state == QUEUED and a.pid is None
    assert a.progress == {"stage": "episodes", "note": "resumed after a service restart"}
    assert b.state == FAILED and "3 times" in b.error
    assert c.state == QUEUED
