"""Outputs on real object-store protocols: s3:// against moto's S3 server and gs:// against the
gcp-storage-emulator, both started here on free ports and reached through s3fs and gcsfs with
BP_STORAGE_OPTIONS_JSON (S3 credentials through the secrets resolver's NAME_FILE).

`blueprint run` killed in its episodes stage and rerun gives the local run's dataset byte for
byte; `blueprint batch` and the service (BP_SERVICE_OUTPUT_URL) write there and a rerun skips every
stage by its markers; the dataset
passes `blueprint dataset check` and the report reads back; the output lock's lease is taken with
the store's conditional writes (one winner of simultaneous takers, expired leases taken over, a
lost lease noticed at renewal) and falls back, with a warning, where the server ignores them."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import storage_servers as servers
from blueprint_pipeline import storage
from blueprint_pipeline.config import get_settings
from blueprint_pipeline.pipeline import STAGE_NAMES
from blueprint_pipeline.scene.synth import write_synthetic_manifest

for _module in ("s3fs", "gcsfs", "moto", "gcp_storage_emulator"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed (the test extra)", allow_module_level=True)
# Read by gcsfs when it is imported: see storage_servers.storage_env.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

pytestmark = pytest.mark.slow

BLUEPRINT = str(Path(sys.executable).with_name("blueprint"))
EPISODES = "6"


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("object_stores")


@pytest.fixture(scope="module")
def s3_server(tmp_module):
    srv = servers.start_s3(tmp_module)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def gcs_server(tmp_module):
    srv = servers.start_gcs(tmp_module, preconditions=True)
    yield srv
    srv.stop()


@pytest.fixture(params=["s3", "gs"])
def server(request, s3_server, gcs_server):
    return s3_server if request.param == "s3" else gcs_server


@pytest.fixture
def store_env(server, tmp_module, monkeypatch):
    """This process configured for `server` as the CLI is (settings reread); the env for children."""
    gcsfs = sys.modules.get("gcsfs")
    if gcsfs is not None and gcsfs.GCSFileSystem.__name__ == "ExtendedGcsFileSystem":
        pytest.fail("gcsfs was imported before GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false was set")
    env = servers.storage_env(server, tmp_module)
    for k in [k for k in os.environ if k.startswith("BP_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings(reload=True)
    yield servers.clean_env(env)
    monkeypatch.undo()
    get_settings(reload=True)


@pytest.fixture(scope="module")
def manifest(tmp_module) -> Path:
    path = tmp_module / "scene.json"
    write_synthetic_manifest(str(path), 6, 7)
    return path


@pytest.fixture(scope="module")
def local_dataset_hash(tmp_module, manifest) -> str:
    out = tmp_module / "local_run"
    done = subprocess.run([BLUEPRINT, "run", str(manifest), "--out", str(out), "--episodes", EPISODES, "--workers", "1"],
                          env=servers.clean_env({}), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return storage.sha256_tree(str(out / "dataset"))


def _no_secret(text: str) -> None:
    assert servers.S3_SECRET_VALUE not in text and servers.S3_KEY_ID not in text


def test_run_killed_midway_and_rerun_on_a_bucket_equals_the_local_run(server, store_env, manifest,
                                                                       local_dataset_hash, tmp_path):
    out = servers.url(server, f"run-{time.time_ns()}")
    cmd = [BLUEPRINT, "run", str(manifest), "--out", out, "--episodes", EPISODES, "--workers", "1", "--log-json"]
    results = storage.join(out, "episodes", "results")
    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=store_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while not [n for n in storage.listdir(results) if n.endswith(".json")]:
                assert proc.poll() is None, "the run ended before it could be killed: " + \
                    (tmp_path / "first.log").read_text()[-2000:]
                time.sleep(0.1)
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
        finally:
            proc.wait()
    assert not storage.exists(storage.join(out, "episodes", ".complete.json"))
    assert storage.exists(storage.join(out, ".blueprint.lock"))  # the killed run's lease stays behind

    rerun = subprocess.run(cmd, env=store_env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "took over the lock" in rerun.stderr  # its holder ran on this host and is gone
    summary = storage.read_json(storage.join(out, "episodes", "summary.json"))
    assert summary["episodes"] == int(EPISODES) and 1 <= summary["resumed_from_journal"] < int(EPISODES)
    for stage in STAGE_NAMES:
        assert storage.exists(storage.join(out, stage, ".complete.json")), stage
    assert not storage.exists(storage.join(out, ".blueprint.lock"))  # released at the end
    assert storage.sha256_tree(storage.join(out, "dataset")) == local_dataset_hash

    # read back from the bucket: `blueprint dataset check URL` and `info URL` pass, the report is there
    check = subprocess.run([BLUEPRINT, "dataset", "check", storage.join(out, "dataset")], env=store_env,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0 and f"ok ({EPISODES} episodes" in check.stdout, check.stdout + check.stderr
    info = subprocess.run([BLUEPRINT, "dataset", "info", storage.join(out, "dataset")], env=store_env,
                          capture_output=True, text=True, check=False)
    assert info.returncode == 0 and f"episodes {EPISODES}" in info.stdout, info.stdout + info.stderr
    missing = subprocess.run([BLUEPRINT, "dataset", "check", storage.join(out, "no-such-dataset")], env=store_env,
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "not a folder" in missing.stderr and "Traceback" not in missing.stderr
    # the check reads the bucket's own bytes: a dataset broken in the bucket fails it
    broken = storage.join(out, "broken-dataset")
    for rel in storage.walk_files(storage.join(out, "dataset")):
        if not rel.startswith("data/"):  # the frames gone, the metadata still naming them
            storage.atomic_write_bytes(storage.join(broken, rel), storage.read_bytes(storage.join(out, "dataset", rel)))
    bad = subprocess.run([BLUEPRINT, "dataset", "check", broken], env=store_env, capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2 and "problem(s)" in bad.stdout, bad.stdout + bad.stderr
    html = storage.read_text(storage.join(out, "report", "report.html"))
    assert "Quality certificate" in html
    cert = storage.read_json(storage.join(out, "report", "quality_certificate.json"))
    assert cert["checks_failed"] == 0, cert
    # credentials resolved from the secret files never reach output, markers or logs
    _no_secret((tmp_path / "first.log").read_text() + rerun.stdout + rerun.stderr)
    for rel in storage.walk_files(out, include_hidden=True):
        if rel.endswith((".json", ".jsonl", ".html", ".log")):
            _no_secret(storage.read_text(storage.join(out, rel)))


@pytest.fixture(scope="module")
def scenes(tmp_module) -> Path:
    folder = tmp_module / "scenes"
    folder.mkdir()
    for seed in (1, 2):
        write_synthetic_manifest(str(folder / f"scene_{seed}.json"), 5, seed)
    return folder


@pytest.fixture(scope="module")
def local_batch_hashes(tmp_module, scenes) -> dict[str, str]:
    out = tmp_module / "local_batch"
    done = subprocess.run([BLUEPRINT, "batch", str(scenes), "--out", str(out), "--episodes", "2"],
                          env=servers.clean_env({}), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((out / ".batch.json").read_text())
    return {s["scene_id"]: storage.sha256_tree(str(out / s["scene_id"] / "dataset")) for s in record["scenes"]}


def test_batch_on_a_bucket_equals_local_and_a_rerun_skips_every_stage(server, store_env, scenes,
                                                                       local_batch_hashes):
    out = servers.url(server, f"batch-{time.time_ns()}")
    cmd = [BLUEPRINT, "batch", str(scenes), "--out", out, "--episodes", "2"]
    first = subprocess.run(cmd, env=store_env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    record = storage.read_json(storage.join(out, ".batch.json"))
    assert record["status"] == "finished" and record["totals"]["scenes_ok"] == 2
    hashes = {s["scene_id"]: storage.sha256_tree(storage.join(out, s["scene_id"], "dataset")) for s in record["scenes"]}
    assert hashes == local_batch_hashes
    again = subprocess.run(cmd, env=store_env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    record = storage.read_json(storage.join(out, ".batch.json"))
    assert record["attempt"] == 2
    for scene in record["scenes"]:
        assert scene["stages_run"] == [] and scene["stages_skipped"] == list(STAGE_NAMES), scene
        assert scene["episodes_simulated"] == 0


def test_the_service_writes_job_outputs_to_a_bucket_and_serves_them_as_its_result(
        server, store_env, manifest, local_dataset_hash, tmp_path):
    """BP_SERVICE_OUTPUT_URL: the job writes <url>/<job id>/ in the bucket (the local run's dataset,
    byte for byte), its status names that URL, and the downloaded result is what the bucket holds."""
    from service_helpers import API_KEY, ServiceProcess

    from blueprint_pipeline.client.api import ServiceClient

    base = servers.url(server, f"service-{time.time_ns()}")
    svc = ServiceProcess(tmp_path / "data", {**store_env, "BP_SERVICE_OUTPUT_URL": base, "BP_WORKERS": "1"}).start()
    try:
        with ServiceClient(svc.url, API_KEY) as client:
            job = client.submit(manifest, episodes=int(EPISODES))
            assert job["output_url"] == storage.join(base, job["id"])
            done = client.wait(job["id"])
            assert done["output_url"] == job["output_url"] and done["counts"]["episodes_ok"] >= 1
            client.download(job["id"], tmp_path / "result")
    finally:
        svc.stop()
    _no_secret(svc.log())
    out = job["output_url"]
    assert storage.exists(storage.join(out, "episodes", ".complete.json"))
    assert storage.sha256_tree(storage.join(out, "dataset")) == local_dataset_hash
    assert storage.sha256_tree(str(tmp_path / "result" / "dataset")) == local_dataset_hash
    assert storage.read_json(storage.join(out, "job.json"))["job_id"] == job["id"]
    assert not (tmp_path / "data" / "jobs" / job["id"] / "out" / "dataset").exists()  # nothing local but the archive


def test_a_manifest_on_a_bucket_is_read_with_the_storage_options(server, store_env, manifest):
    """The manifest itself on the store (custom endpoint, credentials from the secret files),
    validated, streamed (threshold 0) and run from there."""
    base = servers.url(server, f"manifest-{time.time_ns()}")
    remote = storage.join(base, "scene.json")
    storage.atomic_write_bytes(remote, manifest.read_bytes())
    for extra in ([], ["--stream-threshold-mb", "0"]):
        check = subprocess.run([BLUEPRINT, "validate", remote, *extra], env=store_env, capture_output=True,
                               text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([BLUEPRINT, "run", remote, "--out", storage.join(base, "out"), "--only", "scene"],
                         env=store_env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert storage.exists(storage.join(base, "out", "scene", ".complete.json"))
    missing = subprocess.run([BLUEPRINT, "validate", storage.join(base, "none.json")], env=store_env,
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "manifest not found" in missing.stderr and "Traceback" not in missing.stderr


def test_a_second_run_into_a_bucket_folder_in_use_is_refused(server, store_env, manifest):
    out = servers.url(server, f"busy-{time.time_ns()}")
    cmd = [BLUEPRINT, "run", str(manifest), "--out", out, "--episodes", "2", "--workers", "1"]
    first = subprocess.Popen(cmd, env=store_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not storage.exists(storage.join(out, ".blueprint.lock")):
            assert first.poll() is None, first.communicate()[1][-2000:]
            time.sleep(0.05)
        second = subprocess.run(cmd, env=store_env, capture_output=True, text=True, check=False)
    finally:
        stdout, stderr = first.communicate()
    assert first.returncode == 0, stderr[-2000:]
    assert second.returncode == 2, second.stderr[-2000:]
    assert "is in use by another run" in second.stderr and f"pid {first.pid}" in second.stderr


# Each taker is its own process: import, warm the store up (its conditional-write probe), say
# "ready", then at each start time given on stdin try to take the lock of that round's folder. It
# holds what it took until told to exit: a taker that ended early would leave a dead holder,
# whose lease the other may rightly take over.
_TAKER = textwrap.dedent("""
    import json, sys, time
    from blueprint_pipeline import storage
    from blueprint_pipeline.storage.conditional import conditional_store
    from blueprint_pipeline.storage.lock import OutputLock, OutputLockedError
    base = sys.argv[1]
    store, _ = conditional_store(storage.join(base, "warm-up"))
    print("ready", store is not None, flush=True)
    starts = json.loads(sys.stdin.readline())
    held = []
    for n, at in enumerate(starts):
        while time.time() < at:
            pass
        try:
            held.append(OutputLock(storage.join(base, f"round_{n}"), lease_s=600).acquire())
            print("won", n, flush=True)
        except OutputLockedError:
            print("refused", n, flush=True)
    sys.stdin.readline()
""")


def test_simultaneous_lock_takers_on_a_bucket_have_exactly_one_winner(server, store_env):
    base = servers.url(server, f"race-{time.time_ns()}")
    rounds = 6
    takers = [subprocess.Popen([sys.executable, "-c", _TAKER, base], env=store_env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [[], []]
    try:
        for t in takers:
            line = t.stdout.readline()
            assert line.split() == ["ready", "True"], line + t.stderr.read()[-2000:]
        t0 = time.time() + 0.5
        starts = json.dumps([t0 + 0.3 * n for n in range(rounds)])
        for t in takers:  # both get their start times before either starts
            t.stdin.write(starts + "\n")
            t.stdin.flush()
        for t, out in zip(takers, outputs):
            for _ in range(rounds):
                line = t.stdout.readline()
                assert line, t.stderr.read()[-2000:]
                out.append(line)
        for t in takers:
            t.communicate("exit\n")
    finally:
        for t in takers:
            if t.poll() is None:
                t.kill()
                t.wait()
    assert all(t.returncode == 0 for t in takers), outputs
    for n in range(rounds):
        wins = sum(f"won {n}\n" in out for out in outputs)
        refusals = sum(f"refused {n}\n" in out for out in outputs)
        assert (wins, refusals) == (1, 1), f"round {n}: {outputs}"


def test_conditional_lease_takeover_and_a_lost_lease_seen_at_renewal(server, store_env, caplog):
    from blueprint_pipeline.storage.lock import LOCK_NAME, OutputLock, OutputLockedError

    out = servers.url(server, f"lease-{time.time_ns()}")
    lock_url = storage.join(out, LOCK_NAME)
    # a live holder on another host is refused; the same one with its lease expired is taken over
    live = {"pid": 1, "host": "elsewhere", "token": "x", "started_at": "2026-01-01T00:00:00+00:00",
            "expires_at": "2999-01-01T00:00:00+00:00"}
    storage.atomic_write_json(lock_url, live)
    with pytest.raises(OutputLockedError, match="elsewhere"):
        OutputLock(out).acquire()
    storage.atomic_write_json(lock_url, live | {"expires_at": "2001-01-01T00:00:00+00:00"})
    lock = OutputLock(out, lease_s=0.6).acquire()
    try:
        assert lock.took_over and lock.took_over["host"] == "elsewhere" and lock._store is not None
        mine = storage.read_json(lock_url)
        time.sleep(0.5)  # at least one renewal (every 0.2 s), each a conditional replace
        assert storage.read_json(lock_url)["expires_at"] >= mine["expires_at"]
        with caplog.at_level(logging.ERROR, logger="blueprint_pipeline.storage.lock"):
            storage.atomic_write_json(lock_url, live | {"host": "thief"})  # someone else's write
            deadline = time.monotonic() + 60
            while "the lock's lease was taken by" not in caplog.text:
                assert time.monotonic() < deadline, "the renewal did not notice the lost lease"
                time.sleep(0.05)
        assert "thief" in caplog.text
    finally:
        lock.release()
    assert storage.read_json(lock_url)["host"] == "thief"  # not removed: it is not ours any more


def test_a_server_that_ignores_preconditions_is_detected_and_the_lock_falls_back(tmp_module, monkeypatch, caplog):
    from blueprint_pipeline.storage import conditional
    from blueprint_pipeline.storage.lock import OutputLock

    plain = servers.start_gcs(tmp_module, preconditions=False)  # the emulator as shipped
    try:
        for k, v in servers.storage_env(plain, tmp_module).items():
            monkeypatch.setenv(k, v)
        get_settings(reload=True)
        base = servers.url(plain, "plain")
        with caplog.at_level(logging.WARNING, logger="blueprint_pipeline.storage.conditional"):
            store, _ = conditional.conditional_store(storage.join(base, "x"))
        assert store is None and "does not honour conditional writes" in caplog.text
        assert not [n for n in storage.listdir(base) if n.startswith(conditional.PROBE_PREFIX)]
        with OutputLock(storage.join(base, "out")) as lock:  # the documented read-then-write lease
            assert lock._store is None and storage.exists(storage.join(base, "out", ".blueprint.lock"))
    finally:
        monkeypatch.undo()
        get_settings(reload=True)
        plain.stop()


def test_missing_credentials_name_the_secret_and_sources(s3_server, tmp_module, manifest, tmp_path):
    env = servers.storage_env(s3_server, tmp_module)
    env.pop("BLUEPRINT_S3_SECRET_FILE")
    done = subprocess.run([BLUEPRINT, "run", str(manifest), "--out", servers.url(s3_server, "nocreds"),
                           "--only", "scene"], env=servers.clean_env(env), capture_output=True, text=True,
                          check=False)
    assert done.returncode != 0
    assert "secret BLUEPRINT_S3_SECRET not found" in done.stderr and "BLUEPRINT_S3_SECRET_FILE" in done.stderr
    _no_secret(done.stderr)
