"""The LeRobot layout conversion, the per-episode sidecar and the hf schema metadata (no lerobot needed)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_dataset_fixtures import make_episode, write_dataset_dir

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.check import check_dataset
from blueprint_pipeline.dataset.lerobot_compat import convert, fingerprints, reattach_extras

ENCODER_KEYS = {"video.g", "video.crf", "video.preset", "video.fast_decode", "video.video_backend",
                "video.extra_options"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("compat") / "dataset"
    recs = [make_episode(i, frames=12, cameras=("top",), success=i != 1) for i in range(3)]
    write_dataset_dir(root, recs)
    return root


def _episodes(root):
    return pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")


def test_video_info_has_current_lerobot_keys(written):
    info = json.loads((written / layout.INFO_PATH).read_text())["features"]["observation.images.top"]["info"]
    assert info["is_depth_map"] is False and "video.is_depth_map" not in info
    assert ENCODER_KEYS <= set(info)
    assert (info["video.g"], info["video.crf"], info["video.preset"]) == (2, 30, 12)
    assert info["video.fps"] == 30 and info["video.codec"] == "av1"


def test_data_parquet_carries_the_huggingface_features(written):
    meta = pq.read_schema(written / "data/chunk-000/file-000.parquet").metadata
    hf = json.loads(meta[b"huggingface"])["info"]["features"]
    assert hf["next.done"] == {"dtype": "bool", "_type": "Value"}
    assert hf["observation.state"] == {"feature": {"dtype": "float32", "_type": "Value"}, "length": 3,
                                       "_type": "List"}
    assert "observation.images.top" not in hf


def test_convert_to_04_and_back(written, tmp_path):
    root = tmp_path / "d"
    shutil.copytree(written, root)
    before_info = json.loads((root / layout.INFO_PATH).read_text())
    convert(root, "0.4")
    info = json.loads((root / layout.INFO_PATH).read_text())["features"]["observation.images.top"]["info"]
    assert info["video.is_depth_map"] is False and not ENCODER_KEYS & set(info) and "is_depth_map" not in info
    t = _episodes(root)
    assert t.schema.field("stats/next.done/min").type == pa.list_(pa.bool_())
    assert t.schema.field("stats/index/max").type == pa.list_(pa.int64())
    assert t.schema.field("stats/next.done/mean").type == pa.list_(pa.float64())
    assert check_dataset(root) == []
    convert(root, "0.6")
    assert json.loads((root / layout.INFO_PATH).read_text()) == before_info
    assert _episodes(root).schema == _episodes(written).schema
    assert _episodes(root).equals(_episodes(written))


def test_unknown_layout_is_refused(written):
    with pytest.raises(ValueError, match="unknown layout"):
        convert(written, "0.5")


def test_sidecar_and_fingerprints_match_the_data(written):
    side = pq.read_table(written / layout.EXTRAS_PATH).to_pylist()
    assert [r["episode_index"] for r in side] == [0, 1, 2]
    assert [r["success"] for r in side] == [True, False, True]
    assert {r["episode_index"]: r["fingerprint"] for r in side} == fingerprints(written)
    assert len({r["fingerprint"] for r in side}) == 3


def test_reattach_finds_episodes_of_an_edited_copy(written, tmp_path):
    # an edited copy as LeRobot's delete_episodes leaves it: episode 0 gone, the rest renumbered,
    # index columns shifted, no sidecar
    root = tmp_path / "edited"
    shutil.copytree(written, root)
    (root / layout.EXTRAS_PATH).unlink()
    path = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(path)
    ep = t.column("episode_index").to_numpy()
    t = t.filter(pa.array(ep != 0))
    t = t.set_column(t.column_names.index("episode_index"), "episode_index",
                     pa.array(t.column("episode_index").to_numpy() - 1))
    t = t.set_column(t.column_names.index("index"), "index", pa.array(np.arange(t.num_rows, dtype=np.int64)))
    pq.write_table(t, path)
    found, total = reattach_extras(root, [written])
    assert (found, total) == (2, 2)
    side = pq.read_table(root / layout.EXTRAS_PATH).to_pylist()
    assert [(r["episode_index"], r["source_episode_index"], r["success"]) for r in side] == [(0, 1, False), (1, 2, True)]
    column = layout.extrinsics_column("observation.images.top")  # the cameras' poses come back too
    original = pq.read_table(written / layout.EXTRAS_PATH).column(column).to_pylist()
    assert [r[column] for r in side] == original[1:] and all(len(e) == 16 for e in original)
    # a changed frame value is a different episode
    arr = t.column("next.reward").to_numpy().copy()
    arr[0] += 1.0
    pq.write_table(t.set_column(t.column_names.index("next.reward"), "next.reward", pa.array(arr)), path)
    assert reattach_extras(root, [written]) == (1, 2)
