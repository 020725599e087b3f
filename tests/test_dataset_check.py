"""The checker passes on written datasets and names each corruption of a copy."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_dataset_fixtures import make_episode, write_dataset_dir
from typer.testing import CliRunner

from blueprint_pipeline.cli import app
from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.check import check_dataset

DATA0 = "data/chunk-000/file-000.parquet"
META0 = "meta/episodes/chunk-000/file-000.parquet"
VIDEO0 = "videos/observation.images.top/chunk-000/file-000.mp4"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("check") / "dataset"
    write_dataset_dir(root, [make_episode(i, frames=16 + 2 * i, cameras=("top",)) for i in range(3)])
    assert check_dataset(root) == []
    return root


@pytest.fixture
def copy(written, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(written, dst)
    return dst


def _messages(root) -> str:
    return "\n".join(str(p) for p in check_dataset(root))


def _rewrite_parquet(path, change):
    table = pq.read_table(path)
    pq.write_table(change(table), path)


def _set_column(table, name, values):
    i = table.column_names.index(name)
    return table.set_column(i, table.schema.field(name), pa.array(values, type=table.schema.field(name).type))


def _edit_json(path, change):
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def test_unfinished_dataset_without_info(copy):
    (copy / "meta/info.json").unlink()
    assert "never finished" in _messages(copy)


def test_info_total_frames_disagrees_with_files(copy):
    _edit_json(copy / "meta/info.json", lambda i: i.update(total_frames=i["total_frames"] + 5))
    assert "total_frames" in _messages(copy)


def test_info_total_episodes_disagrees(copy):
    _edit_json(copy / "meta/info.json", lambda i: i.update(total_episodes=7))
    msg = _messages(copy)
    assert "total_episodes: says 7, metadata lists 3" in msg


def test_index_gap(copy):
    def gap(t):
        idx = t.column("index").to_numpy().copy()
        idx[5:] += 1
        return _set_column(t, "index", idx)
    _rewrite_parquet(copy / DATA0, gap)
    assert "`index` is not contiguous from 0: row 5 has 6" in _messages(copy)


def test_timestamp_out_of_sync(copy):
    def shift(t):
        ts = t.column("timestamp").to_numpy().copy()
        ts[3] += 0.004
        return _set_column(t, "timestamp", ts)
    _rewrite_parquet(copy / DATA0, shift)
    assert "timestamp of frame 3" in _messages(copy)


def test_episode_ranges_do_not_partition_frames(copy):
    def overlap(t):
        a = t.column("dataset_from_index").to_numpy().copy()
        a[1] -= 2
        return _set_column(t, "dataset_from_index", a)
    _rewrite_parquet(copy / META0, overlap)
    msg = _messages(copy)
    assert "episode ranges must partition the frames" in msg and "episode 1" in msg


def test_missing_frames_in_data(copy):
    _rewrite_parquet(copy / DATA0, lambda t: t.slice(0, t.num_rows - 4))
    msg = _messages(copy)
    assert "data files hold" in msg and "lies outside" in msg


def test_video_missing_frames(copy):
    import av

    # re-encode the camera's file without its last episode: counts and duration no longer match
    src = copy / VIDEO0
    frames = []
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    tmp = src.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for img in frames[:-10]:
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(s.encode())
    tmp.replace(src)
    assert "frames, its episodes' ranges need" in _messages(copy)


def test_video_that_does_not_decode(copy):
    path = copy / VIDEO0
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    msg = _messages(copy)
    assert VIDEO0 in msg and ("does not decode" in msg or "frames, its episodes' ranges need" in msg)


def test_stats_mean_changed(copy):
    _edit_json(copy / "meta/stats.json",
               lambda s: s["observation.state"].update(mean=[m + 0.1 for m in s["observation.state"]["mean"]]))
    assert "stats.json: observation.state.mean" in _messages(copy)


def test_stats_quantile_changed(copy):
    def bad(s):
        s["action"]["q50"] = s["action"]["max"]
    _edit_json(copy / "meta/stats.json", bad)
    assert "action.q50" in _messages(copy) and "count-weighted mean" in _messages(copy)


def test_exact_stats_sidecar_quantile_changed(copy):
    def bad(s):
        s["action"]["q50"] = s["action"]["max"]
    _edit_json(copy / layout.EXACT_STATS_PATH, bad)
    assert "blueprint_stats_exact.json: action.q50" in _messages(copy) and "0.50 quantile" in _messages(copy)


def test_per_episode_stats_changed(copy):
    def bad(t):
        col = t.column("stats/observation.ee_pose/max").to_pylist()
        col[2] = [v + 1.0 for v in col[2]]
        return _set_column(t, "stats/observation.ee_pose/max", col)
    _rewrite_parquet(copy / META0, bad)
    msg = _messages(copy)
    assert "episode 2" in msg and "stats/observation.ee_pose/max" in msg


def test_image_stats_do_not_match_the_video(copy):
    def bad(t):
        col = t.column("stats/observation.images.top/mean").to_pylist()
        col[0] = [[[0.0]], [[0.0]], [[0.0]]]
        return _set_column(t, "stats/observation.images.top/mean", col)
    _rewrite_parquet(copy / META0, bad)
    assert "vs decoded frames" in _messages(copy)


def test_features_do_not_match_the_schema(copy):
    _edit_json(copy / "meta/info.json",
               lambda i: i["features"]["observation.state"].update(shape=[4], names=["a", "b", "c", "d"]))
    assert "column observation.state has type" in _messages(copy)


def test_task_index_wrong(copy):
    _rewrite_parquet(copy / DATA0, lambda t: _set_column(t, "task_index", np.full(t.num_rows, 3)))
    assert "task_index differs" in _messages(copy)


def test_cli_exit_codes_and_listing(written, copy):
    runner = CliRunner()
    ok = runner.invoke(app, ["dataset", "check", str(written)])
    assert ok.exit_code == 0 and "ok (3 episodes" in ok.output
    _edit_json(copy / "meta/info.json", lambda i: i.update(total_frames=1, total_tasks=4))
    bad = runner.invoke(app, ["dataset", "check", str(copy)])
    assert bad.exit_code == 2
    assert "total_frames" in bad.output and "total_tasks" in bad.output


def test_a_metadata_file_that_is_not_parquet(copy):
    (copy / META0).write_bytes(b"not a parquet file at all")
    msg = _messages(copy)
    assert META0 in msg and "unreadable" in msg


def test_stats_json_that_is_not_json(copy):
    (copy / "meta/stats.json").write_text("{ nope")
    assert "meta/stats.json: unreadable" in _messages(copy)


def test_camera_intrinsics_that_do_not_fit_the_frames(copy):
    def change(info):
        info["features"]["observation.images.top"]["info"]["camera.fx"] *= 1.1
    _edit_json(copy / layout.INFO_PATH, change)
    assert "camera intrinsics do not match a 64x64 pinhole" in _messages(copy)


def test_camera_extrinsics_that_are_not_rigid(copy):
    column = layout.extrinsics_column("observation.images.top")

    def change(table):
        rows = table.column(column).to_pylist()
        rows[1] = [2.0 * v for v in rows[1]]  # a scaled rotation
        return _set_column(table, column, rows)
    _rewrite_parquet(copy / META0, change)
    assert f"episode 1: {column} is not a rigid 4x4 transform" in _messages(copy)
