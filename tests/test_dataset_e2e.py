"""Slow: the real episodes stage (Panda in MuJoCo, two rendered cameras) -> dataset -> report."""

from __future__ import annotations

import json

import pytest
import test_dataset_fixtures  # noqa: F401 - sets MUJOCO_GL before mujoco renders

from blueprint_pipeline.dataset.check import check_dataset
from blueprint_pipeline.dataset.stage import run as run_dataset
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.report.stage import run as run_report

pytestmark = pytest.mark.slow


def test_simulated_episodes_become_a_valid_dataset_and_a_report(tmp_path):
    from blueprint_pipeline.sim import stage as episodes_stage
    from blueprint_pipeline.testing.tabletop import tabletop_scene, write_inputs

    write_inputs(str(tmp_path), *tabletop_scene())
    ctx = StageContext(manifest_url="", out_url=str(tmp_path),
                       options=RunOptions(episodes=2, workers=2, seed=3, render=True))
    episodes = episodes_stage.run(ctx)
    run_dataset(ctx)
    assert check_dataset(tmp_path / "dataset") == []
    info = json.loads((tmp_path / "dataset/meta/info.json").read_text())
    assert info["total_episodes"] == episodes.items_ok >= 1 and info["robot_type"] == "franka"
    cams = [k for k, ft in info["features"].items() if ft["dtype"] == "video"]
    assert cams and all(info["features"][k]["info"]["video.codec"] == "av1" for k in cams)
    assert info["features"]["observation.state"]["names"][-1].startswith("gripper")

    run_report(ctx)
    cert = json.loads((tmp_path / "report/quality_certificate.json").read_text())
    checks = {c["name"]: c["passed"] for c in cert["checks"]}
    assert checks["dataset_invariants"] is True and checks["dataset_matches_episodes"] is True
    assert checks["episodes_certificate"] is True
    assert any(p.name.startswith("contact_sheet_") for p in (tmp_path / "report").glob("*.png"))
