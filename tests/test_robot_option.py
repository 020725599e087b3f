"""An unknown robot name is refused before any work: `blueprint run/batch/episodes --robot ur11`
exit 2 naming the option and the known robots with no stage run, and the service answers
`POST /v1/jobs?robot=ur11` with 422 without creating a job."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from service_helpers import KITCHEN, ThreadedServer, auth, config_for, tree_snapshot

from blueprint_pipeline.cli import main
from blueprint_pipeline.robots import ROBOTS
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.worker import WorkerSettings

KNOWN = ", ".join(sorted(ROBOTS))


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out + err


def command(name: str, tmp_path: Path) -> list[str]:
    out = str(tmp_path / "out")
    if name == "run":
        return ["run", str(KITCHEN), "--out", out]
    if name == "batch":
        scenes = tmp_path / "scenes"
        scenes.mkdir()
        shutil.copy(KITCHEN, scenes / "kitchen.json")
        return ["batch", str(scenes), "--out", out]
    return ["episodes", out]


@pytest.mark.parametrize("name", ["run", "batch", "episodes"])
@pytest.mark.parametrize("robot", ["ur11", "Franka", ""])
def test_unknown_robot_is_refused_before_any_stage(name: str, robot: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_cli([*command(name, tmp_path), "--robot", robot], capsys)
    flat = " ".join(text.split())
    assert code == 2, text
    assert f"--robot: unknown robot {robot!r}; known robots: {KNOWN}" in flat, text
    assert "Traceback" not in text and "internal error" not in flat
    assert len(text.splitlines()) < 10
    assert not (tmp_path / "out").exists()  # not a single stage ran


def test_known_robot_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_cli(["run", str(KITCHEN), "--out", str(tmp_path / "out"), "--only", "scene",
                          "--robot", "ur10"], capsys)
    assert code == 0, text
    assert (tmp_path / "out" / "scene" / ".complete.json").is_file()


@pytest.fixture()
def service(tmp_path: Path):
    data = tmp_path / "data"
    app = create_app(config_for(data, rate_limit_per_s=1000.0, worker=WorkerSettings(max_concurrent_jobs=0)))
    with ThreadedServer(app) as srv:
        srv.data_dir = data
        yield srv


@pytest.mark.parametrize("robot", ["ur11", "franka2"])
def test_service_refuses_an_unknown_robot_at_submission(service, robot: str) -> None:
    before = tree_snapshot(service.data_dir)
    r = httpx.post(f"{service.url}/v1/jobs", params={"robot": robot}, content=KITCHEN.read_bytes(),
                   headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == f"robot: unknown robot {robot!r}; known robots: {KNOWN}"
    assert httpx.get(f"{service.url}/v1/jobs", headers=auth()).json() == {"jobs": []}
    assert {p for p in tree_snapshot(service.data_dir) - before if not p.startswith("jobs.sqlite3")} == set()


def test_service_accepts_a_known_robot(service) -> None:
    r = httpx.post(f"{service.url}/v1/jobs", params={"robot": "ur10"}, content=KITCHEN.read_bytes(),
                   headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["params"]["robot"] == "ur10"


@pytest.mark.parametrize("params,named", [({"seed": -1}, "seed"), ({"seed": 2**32}, "seed"),
                                          ({"episodes": -3}, "episodes")])
def test_service_checks_seed_and_episodes_as_the_cli_does(service, params, named: str) -> None:
    """The same ranges as `blueprint run` (RunOptions.create): seeds 0..2^32-1, episodes >= 0."""
    r = httpx.post(f"{service.url}/v1/jobs", params=params, content=KITCHEN.read_bytes(),
                   headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{named}: "), r.text
    assert httpx.get(f"{service.url}/v1/jobs", headers=auth()).json() == {"jobs": []}
