"""End to end through the command line: `blueprint serve`, `blueprint submit examples/kitchen.json
--wait --out`, then `blueprint dataset check` on what was downloaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from service_helpers import API_KEY, KITCHEN, ServiceProcess

CLI = [sys.executable, "-c", "from blueprint_pipeline.cli import main; main()"]


def cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    env.update({"BP_API_KEY": API_KEY, "BP_SERVICE_URL": url})
    return env


@pytest.mark.slow
def test_submit_kitchen_wait_download_and_check_the_dataset(tmp_path):
    svc = ServiceProcess(tmp_path / "data", {"BP_WORKERS": "1"}).start()
    try:
        out = tmp_path / "kitchen"
        run = subprocess.run([*CLI, "submit", str(KITCHEN), "--episodes", "2", "--wait", "--out", str(out)],
                             env=cli_env(svc.url), capture_output=True, text=True, timeout=1200, check=False)
        assert run.returncode == 0, run.stdout + run.stderr + svc.log()
        assert "succeeded" in run.stdout
        assert (out / "dataset" / "meta" / "info.json").is_file()
        check = subprocess.run([*CLI, "dataset", "check", str(out / "dataset")],
                               env=cli_env(svc.url), capture_output=True, text=True, timeout=600, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert any((out / "report").iterdir())
    finally:
        svc.stop()


def test_client_commands_fail_cleanly_without_a_server_or_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    run = subprocess.run([*CLI, "status", "0" * 32], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2 and "BP_SERVICE_URL" in run.stderr and "Traceback" not in run.stderr
    env["BP_SERVICE_URL"] = "http://127.0.0.1:9"
    env["BP_API_KEY"] = API_KEY
    run = subprocess.run([*CLI, "status", "../../etc"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2 and "invalid job id" in run.stderr and "Traceback" not in run.stderr
