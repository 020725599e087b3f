"""The client commands as a user runs them (subprocesses, real server on a loopback socket), and
the service's configuration from BP_* settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from service_helpers import API_KEY, KITCHEN, ThreadedServer, config_for

from blueprint_pipeline.config import load_settings
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.secrets import resolver
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.auth import hash_key
from blueprint_pipeline.service.config import ServiceConfig
from blueprint_pipeline.service.worker import WorkerSettings

CLI = [sys.executable, "-c", "from blueprint_pipeline.cli import main; main()"]


def blueprint(*args: str, key: str = API_KEY, url: str | None = None, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    env["BP_API_KEY"] = key
    if url:
        env["BP_SERVICE_URL"] = url
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300, input=stdin, check=False)


def test_submit_status_cancel_wait_download_from_the_command_line(tmp_path):
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv:
        run = blueprint("submit", str(KITCHEN), "--server", srv.url, "--episodes", "3", "--json")
        assert run.returncode == 0, run.stderr
        job = json.loads(run.stdout)
        assert job["state"] == "queued" and job["params"]["episodes"] == 3

        run = blueprint("status", job["id"], url=srv.url)
        assert run.returncode == 0 and f"{job['id']}  queued" in run.stdout

        run = blueprint("cancel", job["id"], url=srv.url)
        assert run.returncode == 0 and "canceled" in run.stdout

        run = blueprint("wait", job["id"], url=srv.url)
        assert run.returncode == 1 and f"job {job['id']} canceled" in run.stderr
        assert "Traceback" not in run.stderr

        run = blueprint("download", job["id"], "--out", str(tmp_path / "dl"), url=srv.url)
        assert run.returncode == 1 and "409" in run.stderr and "canceled" in run.stderr
        assert not (tmp_path / "dl").exists()

        run = blueprint("status", job["id"], url=srv.url, key="wrong-key-123456")
        assert run.returncode == 1 and "401" in run.stderr and "wrong-key-123456" not in run.stderr

        run = blueprint("submit", str(tmp_path / "missing.json"), url=srv.url)
        assert run.returncode == 2 and "no such file" in run.stderr


def test_hash_key_prints_the_digest_for_the_settings():
    run = blueprint("serve", "--hash-key", stdin="my-team-key\n")
    assert run.returncode == 0 and run.stdout.strip() == hash_key("my-team-key")


def test_service_config_from_settings(tmp_path, monkeypatch):
    for var in [v for v in os.environ if v.startswith("BP_")]:
        monkeypatch.delenv(var)
    resolver.clear_cache()
    env = {"BP_SERVICE_DATA_DIR": str(tmp_path / "svc"), "BP_SERVICE_MAX_UPLOAD_MB": "2",
           "BP_SERVICE_API_KEY_HASHES": hash_key("a-key-1") + "," + hash_key("a-key-2"),
           "BP_SERVICE_FAULTS": "seed=3,p503=0.2", "BP_SERVICE_MAX_CONCURRENT_JOBS": "0"}
    cfg = ServiceConfig.from_settings(load_settings(env))
    assert cfg.data_dir == tmp_path / "svc" and cfg.max_upload_bytes == 2 * 1024**2
    assert cfg.key_ring().identify("a-key-2") and not cfg.key_ring().identify("a-key-3")
    assert cfg.faults.p503 == 0.2 and cfg.faults.seed == 3 and cfg.worker.max_concurrent_jobs == 0

    # A plain key through the secrets resolver (here: a file named by BP_SERVICE_API_KEY_FILE).
    key_file = tmp_path / "key"
    key_file.write_text("file-key-xyz\n")
    monkeypatch.setenv("BP_SERVICE_API_KEY_FILE", str(key_file))
    resolver.clear_cache()
    cfg = ServiceConfig.from_settings(load_settings({"BP_SERVICE_DATA_DIR": str(tmp_path / "svc")}))
    assert cfg.key_ring().identify("file-key-xyz") and len(cfg.key_ring()) == 1

    monkeypatch.delenv("BP_SERVICE_API_KEY_FILE")
    resolver.clear_cache()
    with pytest.raises(InvalidInputError, match="no API keys configured"):
        ServiceConfig.from_settings(load_settings({}))
    with pytest.raises(InvalidInputError, match="BP_SERVICE_API_KEY_HASHES"):
        ServiceConfig.from_settings(load_settings({"BP_SERVICE_API_KEY_HASHES": "abc"}))
    with pytest.raises(InvalidInputError, match="BP_SERVICE_FAULTS"):
        ServiceConfig.from_settings(load_settings({"BP_SERVICE_API_KEY_HASHES": hash_key("k"),
                                                   "BP_SERVICE_FAULTS": "p999=1"}))
    assert cfg.output_url is None
    keyed = {"BP_SERVICE_API_KEY_HASHES": hash_key("k")}
    cfg = ServiceConfig.from_settings(load_settings({**keyed, "BP_SERVICE_OUTPUT_URL": "s3://bucket/jobs/"}))
    assert cfg.output_url == "s3://bucket/jobs"
    for bad, why in (("jobs/out", "absolute folder"), ("s3://bucket/../other", "'..'")):
        with pytest.raises(InvalidInputError, match=f"BP_SERVICE_OUTPUT_URL.*{re.escape(why)}"):
            ServiceConfig.from_settings(load_settings({**keyed, "BP_SERVICE_OUTPUT_URL": bad}))
    resolver.clear_cache()
