"""Optional: the real lerobot library loads a dataset this project wrote (skipped without it)."""

from __future__ import annotations

import json

import pytest
from test_dataset_fixtures import make_episode, write_dataset_dir

pytestmark = pytest.mark.lerobot


def test_lerobot_loads_the_written_dataset(tmp_path):
    lerobot_dataset = pytest.importorskip("lerobot.datasets.lerobot_dataset")
    root = tmp_path / "dataset"
    tasks = ["move the arm over the red box", "move the arm back"]
    recs = [make_episode(i, frames=16, cameras=("top",), task=tasks[i % 2]) for i in range(3)]
    write_dataset_dir(root, recs)
    info = json.loads((root / "meta/info.json").read_text())

    ds = lerobot_dataset.LeRobotDataset("local/blueprint-test", root=root)
    assert ds.num_episodes == 3 and ds.num_frames == info["total_frames"] == len(ds)
    item = ds[len(ds) - 1]
    assert item["task"] == tasks[0]
    assert tuple(item["observation.images.top"].shape) == (3, 64, 64)
    assert tuple(item["observation.state"].shape) == (3,)
    assert abs(float(item["timestamp"]) - 15 / 30) < 1e-6
    assert item["observation.state"].numpy().tolist() == pytest.approx(recs[2].state[-1].tolist())
