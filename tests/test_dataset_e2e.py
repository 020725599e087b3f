"""Slow: the real episodes stage (Panda in MuJoCo, two rendered cameras) -> dataset -> report."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
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
    # the cameras as data: intrinsics in the features, each episode's extrinsics in its metadata
    for key in cams:
        cam_info = info["features"][key]["info"]
        h = info["features"][key]["shape"][0]
        assert cam_info["camera.model"] == "pinhole" and cam_info["camera.fx"] == cam_info["camera.fy"] > h / 2
        assert cam_info["camera.cx"] == (info["features"][key]["shape"][1] - 1) / 2
    frames = {info["features"][k]["info"]["camera.extrinsics_frame"] for k in cams}
    assert frames == {"world", "tcp"}
    meta = pq.read_table(tmp_path / "dataset/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    extras = pq.read_table(tmp_path / "dataset/meta/blueprint_episodes.parquet").to_pylist()
    for row, extra in zip(meta, extras, strict=True):
        for key in cams:
            e = np.asarray(row[f"cameras/{key}/extrinsics"]).reshape(4, 4)
            np.testing.assert_allclose(e[:3, :3] @ e[:3, :3].T, np.eye(3), atol=1e-9)
            np.testing.assert_array_equal(e[3], [0, 0, 0, 1])
            assert extra[f"cameras/{key}/extrinsics"] == row[f"cameras/{key}/extrinsics"]

    run_report(ctx)
    cert = json.loads((tmp_path / "report/quality_certificate.json").read_text())
    checks = {c["name"]: c["passed"] for c in cert["checks"]}
    assert checks["dataset_invariants"] is True and checks["dataset_matches_episodes"] is True
    assert checks["episodes_certificate"] is True
    rendering = json.loads((tmp_path / "episodes/quality_certificate.json").read_text())["rendering"]
    assert rendering["robot_model"].startswith("example-robot-data ") and rendering["visual_randomization"] is True
    assert any(p.name.startswith("contact_sheet_") for p in (tmp_path / "report").glob("*.png"))
    assert (tmp_path / "report/keyframes.png").stat().st_size > 10_000  # start, grasp, end per task
