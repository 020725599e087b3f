"""Jobs over real sockets: the pipeline runs in a job process, results download verified, cancel
kills the job's process group, and a SIGKILL of the service loses no finished work.

These tests run the real pipeline as far as it exists: where a registered stage cannot be
imported yet, the job must end failed with a reason naming it; once every stage lands, the job
must succeed and its dataset pass the checker."""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import psutil
import pytest
from service_helpers import (
    API_KEY,
    ServiceProcess,
    ThreadedServer,
    auth,
    config_for,
    small_manifest,
)

from blueprint_pipeline.client.api import ClientTimeouts, JobFailedError, ServiceClient
from blueprint_pipeline.errors import TransientError
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.store import JobStore
from blueprint_pipeline.service.worker import WorkerSettings

FAST_POLL = ClientTimeouts(request_s=30, wait_s=600, poll_min_s=0.1, poll_max_s=0.5)


def make_client(url: str) -> ServiceClient:
    policy = CallPolicy(f"jobs-{uuid.uuid4().hex[:8]}", rate_per_s=100, base_delay_s=0.1,
                        max_delay_s=1.0, deadline_s=60)
    return ServiceClient(url, API_KEY, policy=policy, timeouts=FAST_POLL)


def wait_until(predicate, what: str, timeout_s: float = 300.0, every_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


def test_job_runs_the_pipeline_and_its_result_downloads(tmp_path):
    manifest = small_manifest(tmp_path)
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(episode_workers=1)))
    with ThreadedServer(app) as srv, make_client(srv.url) as client:
        job = client.submit(manifest, episodes=2, seed=3)
        assert job["state"] == "queued" and job["params"]["episodes"] == 2
        job = client.wait(job["id"])
        assert job["state"] == "succeeded" and job["result"]["bytes"] > 0
        files = client.download(job["id"], tmp_path / "result")
        assert "job.json" in files
        summary = json.loads((tmp_path / "result" / "job.json").read_text())
        assert summary["job_id"] == job["id"] and summary["counts"] == job["counts"]
        metrics = httpx.get(f"{srv.url}/metrics", headers=auth()).text
        assert 'bp_jobs{state="succeeded"} 1.0' in metrics
        assert f"bp_episodes_generated_total {float(job['counts']['episodes_ok'])}" in metrics
        assert job["counts"]["episodes_ok"] >= 1
        assert 'bp_http_requests_total{method="POST",status="201"} 1.0' in metrics


def group_members(pgid: int) -> list[int]:
    found = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


def test_result_is_409_until_done_and_cancel_kills_the_process_group(tmp_path):
    """Cancel while episode workers run: the job process and every process it started are gone."""
    manifest = small_manifest(tmp_path)
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(episode_workers=2)))
    with ThreadedServer(app) as srv, make_client(srv.url) as client:
        job = client.submit(manifest, episodes=40)
        wait_until(lambda: client.status(job["id"])["state"] == "running", "the job to start")
        pid = wait_until(lambda: app.state.store.get(job["id"]).pid, "the job's pid")
        wait_until(lambda: client.status(job["id"])["progress"].get("stage") == "episodes"
                   and len(group_members(pid)) >= 3, "episode workers to run", timeout_s=600)
        members = group_members(pid)
        assert pid in members
        r = httpx.get(f"{srv.url}/v1/jobs/{job['id']}/result", headers=auth())
        assert r.status_code == 409 and "running" in r.json()["detail"]
        r = httpx.post(f"{srv.url}/v1/jobs/{job['id']}/cancel", headers=auth())
        assert r.status_code in (200, 202)
        done = wait_until(lambda: (j := client.status(job["id"]))["state"] == "canceled" and j, "the cancel")
        assert done["error"] == "cancelled"
        wait_until(lambda: not group_members(pid), f"the job's processes {members} to go", timeout_s=60)
        with pytest.raises(JobFailedError, match="canceled"):
            client.wait(job["id"])
        r = httpx.post(f"{srv.url}/v1/jobs/{job['id']}/cancel", headers=auth())
        assert r.status_code == 200  # cancelling again is harmless
        # Another key cannot see or touch this job.
        from service_helpers import OTHER_KEY

        assert httpx.get(f"{srv.url}/v1/jobs/{job['id']}", headers=auth(OTHER_KEY)).status_code == 404


def test_a_queued_job_cancels_at_once(tmp_path):
    manifest = small_manifest(tmp_path)
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv, make_client(srv.url) as client:
        job = client.submit(manifest)
        impatient = ServiceClient(srv.url, API_KEY, policy=client.policy,
                                  timeouts=ClientTimeouts(wait_s=0.5, poll_min_s=0.1, poll_max_s=0.2))
        with pytest.raises(TransientError, match="still queued after waiting 0.5 s"):
            impatient.wait(job["id"])
        impatient.close()
        assert client.cancel(job["id"])["state"] == "canceled"
        assert httpx.post(f"{srv.url}/v1/jobs/{job['id']}/cancel", headers=auth()).status_code == 200


@pytest.mark.slow
def test_service_sigkilled_mid_job_resumes_without_losing_finished_work(tmp_path):
    """Kill the service once finished work exists: inside the episodes stage after its first
    episode result. After a restart the job resumes: that work is kept, not redone."""
    manifest = small_manifest(tmp_path)
    data = tmp_path / "data"
    env = {"BP_WORKERS": "1"}
    svc = ServiceProcess(data, env).start()
    try:
        client = make_client(svc.url)
        # Enough episodes on one worker that the kill lands inside the episodes stage.
        job = client.submit(manifest, episodes=12)
        out = data / "jobs" / job["id"] / "out"
        results = out / "episodes" / "results"
        wait_until(lambda: results.is_dir() and any(results.glob("episode_*.json")),
                   "the first episode result", timeout_s=600, every_s=0.02)
        kept = sorted(results.glob("episode_*.json")) + [out / "scene" / ".complete.json"]
        before = {p: p.stat().st_mtime_ns for p in kept}
        reader = JobStore(data / "jobs.sqlite3")  # a second connection, as any reader of the WAL may
        job_pid = reader.get(job["id"]).pid
        reader.close()
        svc.kill()
        # The orphaned job process notices and stops (no two runs may share the folder).
        wait_until(lambda: not psutil.pid_exists(job_pid) or psutil.Process(job_pid).status() == psutil.STATUS_ZOMBIE,
                   "the orphaned job process to stop", timeout_s=30)
        assert client.policy  # the client outlives the service; a new one talks to the restart
        svc = ServiceProcess(data, env, port=svc.port).start()
        client = make_client(svc.url)
        final = wait_until(lambda: (j := client.status(job["id"]))["state"] in ("succeeded", "failed") and j,
                           "the resumed job to end", timeout_s=900)
        print(f"\nresumed job {final['state']}: kept {len(kept)} files; error {final['error']}")
        assert final["attempts"] == 2
        assert final["progress"].get("note") == "resumed after a service restart"
        if final["state"] == "failed":
            assert final["error"]
        # The finished work was kept, not redone.
        assert {p: p.stat().st_mtime_ns for p in kept} == before
        if final["state"] == "succeeded":
            stages = final["counts"]["stages"]
            assert stages["scene"]["status"] == "skipped"
            # If the orphaned job process still finished the stage before it stopped, the resumed
            # run skips it: nothing to resume, and (checked above) nothing redone.
            if stages["episodes"]["status"] != "skipped":
                summary = json.loads((out / "episodes" / "summary.json").read_text())
                print(f"episodes summary: {summary['episodes']} episodes, "
                      f"{summary['resumed_from_journal']} resumed from the journal")
                assert summary["resumed_from_journal"] >= len(kept) - 1
                assert summary["episodes"] == 12
    finally:
        svc.stop()


def test_bundle_with_a_manifest_is_accepted_and_validated(tmp_path):
    import json as _json

    from service_helpers import KITCHEN, file_member, make_tar_gz

    manifest = KITCHEN.read_bytes()
    bundle = make_tar_gz(tmp_path / "b.tar.gz", [file_member("kitchen/scene_manifest.json", manifest),
                                                  file_member("kitchen/objects/readme.txt", b"assets here")])
    broken = make_tar_gz(tmp_path / "x.tar.gz", [file_member("kitchen/scene_manifest.json",
                                                             _json.dumps({"version": "1.0.0"}).encode())])
    empty = make_tar_gz(tmp_path / "e.tar.gz", [file_member("notes.txt", b"no manifest")])
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv, make_client(srv.url) as client:
        job = client.submit(bundle)
        assert job["input_kind"] == "bundle" and job["scene_id"] == _json.loads(manifest)["scene_id"]
        job_dir = app.state.config.data_dir / "jobs" / job["id"]
        assert (job_dir / "input" / "bundle" / "kitchen" / "objects" / "readme.txt").read_bytes() == b"assets here"
        assert (job_dir / "out" / "scene" / ".complete.json").is_file()  # validated by the scene stage
        for bad, message in ((broken, "scene_id"), (empty, "no scene_manifest.json")):
            r = httpx.post(f"{srv.url}/v1/jobs", content=bad.read_bytes(),
                           headers={**auth(), "Content-Type": "application/gzip"})
            assert r.status_code == 422 and message in r.text, r.text
        assert len(client.list_jobs()) == 1
        assert sorted(p.name for p in (app.state.config.data_dir / "jobs").iterdir()) == [job["id"]]


def test_invalid_manifest_is_refused_with_the_contracts_problems(tmp_path):
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    bad = {"version": "1.0.0", "scene_id": "bad scene!", "scene": {}, "objects": [{"id": "a"}]}
    with ThreadedServer(app) as srv:
        for body in (json.dumps(bad).encode(), b"{not json", b"[1, 2]"):
            r = httpx.post(f"{srv.url}/v1/jobs", content=body, headers={**auth(), "Content-Type": "application/json"})
            assert r.status_code == 422, r.text
        r = httpx.post(f"{srv.url}/v1/jobs", content=json.dumps(bad).encode(),
                       headers={**auth(), "Content-Type": "application/json"})
        detail = r.json()
        assert "scene_id" in json.dumps(detail)
        assert str(tmp_path) not in r.text  # where the service keeps jobs is nobody's business
        assert not any((app.state.config.data_dir / "jobs").iterdir())


def test_a_bundle_s_mesh_assets_are_read_from_the_bundle(tmp_path):
    """An uploaded bundle carries its assets beside the manifest: the job's simready stage reads
    the meshes from there (the asset root defaults to the manifest's folder)."""
    from pathlib import Path

    from service_helpers import file_member, make_tar_gz

    from blueprint_pipeline.service.job_process import run_job

    example = Path(__file__).resolve().parents[1] / "examples" / "meshed_kitchen"
    members = [file_member("kitchen/scene_manifest.json", (example / "meshed_kitchen.json").read_bytes())]
    members += [file_member(f"kitchen/assets/{p.name}", p.read_bytes()) for p in sorted((example / "assets").iterdir())]
    bundle = make_tar_gz(tmp_path / "meshed.tar.gz", members)
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv, make_client(srv.url) as client:
        job = client.submit(bundle, episodes=1)
    job_dir = app.state.config.data_dir / "jobs" / job["id"]
    assert run_job(job_dir)["status"] == "succeeded"
    physics = json.loads((job_dir / "out" / "simready" / "physics.json").read_text())["objects"]
    meshed = sorted(oid for oid, p in physics.items() if p.get("mesh"))
    assert meshed == ["bottle", "bowl", "box", "mug_left", "mug_right"]
    assert all((job_dir / "out" / "simready" / physics[oid]["mesh"]["file"]).is_file() for oid in meshed)
