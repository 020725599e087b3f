"""LeRobot v3.0 writer: layout, round trip of every array, rollover by size, statistics."""

from __future__ import annotations

import json
from itertools import pairwise

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
from test_dataset_fixtures import make_episode, write_dataset_dir

from blueprint_pipeline.sim.records import TASK_STATE_NAMES
from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.check import check_dataset
from blueprint_pipeline.dataset.stats import (
    RunningStats,
    episode_stats,
    histogram_quantiles,
    vector_stats,
)
from blueprint_pipeline.dataset.tasks_file import read_tasks
from blueprint_pipeline.dataset.video import VideoSettings
from blueprint_pipeline.dataset.writer import DatasetWriter
from blueprint_pipeline.errors import InvalidInputError

TASKS = ("move the arm over the red box", "Café: put the mug, ceramic, on the shelf")


@pytest.fixture(scope="module")
def episodes():
    return [make_episode(i, frames=18 + 3 * i, cameras=("top",), task=TASKS[i % 2]) for i in range(4)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, episodes):
    root = tmp_path_factory.mktemp("ds") / "dataset"
    info = write_dataset_dir(root, episodes)
    return root, info


def _read_data(root):
    tables = [pq.read_table(p) for p in sorted(root.glob("data/chunk-*/file-*.parquet"))]
    return {c: np.concatenate([np.asarray(t.column(c).to_pylist()) for t in tables]) for c in tables[0].column_names}


def test_info_json_describes_the_dataset(dataset, episodes):
    root, info = dataset
    on_disk = json.loads((root / layout.INFO_PATH).read_text())
    assert on_disk == info
    assert info["codebase_version"] == "v3.0"
    assert info["robot_type"] == "two_link_arm" and info["fps"] == 30
    assert info["total_episodes"] == 4 and info["total_tasks"] == 2
    assert info["total_frames"] == sum(e.length for e in episodes)
    assert info["chunks_size"] == 1000 and info["splits"] == {"train": "0:4"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    f = info["features"]
    assert f["observation.state"] == {"dtype": "float32", "shape": [3], "names": ["shoulder", "elbow", "gripper_width_m"]}
    assert f["observation.environment_state"]["names"] == list(TASK_STATE_NAMES)  # the task's objects, by role
    assert f["next.done"]["dtype"] == "bool" and f["timestamp"]["dtype"] == "float32"
    cam = f["observation.images.top"]
    assert cam["dtype"] == "video" and cam["shape"] == [64, 64, 3]
    assert cam["info"]["video.codec"] == "av1" and cam["info"]["video.pix_fmt"] == "yuv420p"
    assert cam["info"]["video.fps"] == 30


def test_frames_round_trip_exactly(dataset, episodes):
    root, _ = dataset
    cols = _read_data(root)
    assert np.array_equal(cols["index"], np.arange(len(cols["index"])))
    tasks = read_tasks(root / layout.TASKS_PATH)
    assert tasks == {TASKS[0]: 0, TASKS[1]: 1}
    start = 0
    for ep, rec in enumerate(episodes):
        sl = slice(start, start + rec.length)
        assert np.array_equal(cols["observation.state"][sl], rec.state)
        assert np.array_equal(cols["action"][sl], rec.action)
        assert np.array_equal(cols["observation.ee_pose"][sl], rec.ee_pose)
        assert np.array_equal(cols["observation.environment_state"][sl], rec.task_state)
        assert np.array_equal(cols["next.done"][sl], rec.done)
        assert np.array_equal(cols["next.success"][sl], rec.success_flags)
        assert (cols["episode_index"][sl] == ep).all()
        assert (cols["task_index"][sl] == tasks[rec.task_description]).all()
        want_ts = (np.arange(rec.length) / 30).astype(np.float32)
        assert np.array_equal(cols["timestamp"][sl].astype(np.float32), want_ts)
        start += rec.length


def test_video_frames_decode_close_to_the_rendered_frames(dataset, episodes):
    root, _ = dataset
    meta = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    with av.open(str(root / "videos/observation.images.top/chunk-000/file-000.mp4")) as c:
        s = c.streams.video[0]
        decoded = [(float(f.pts * s.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(s)]
    assert len(decoded) == sum(e.length for e in episodes)
    for row, rec in zip(meta, episodes, strict=True):
        t0 = row["videos/observation.images.top/from_timestamp"]
        for k in (0, rec.length - 1):
            t, img = min(decoded, key=lambda d: abs(d[0] - (t0 + k / 30)))
            assert abs(t - (t0 + k / 30)) < 1e-4
            err = np.abs(img.astype(int) - rec.images["top"][k].astype(int)).mean()
            assert err < 6.0, f"episode {row['episode_index']} frame {k}: mean abs error {err:.1f}"


def test_every_episode_starts_on_a_keyframe(dataset, episodes):
    """An episode starting at an odd frame of a file (gop 2) was coded from the last frame of the
    episode before it: a ghost of the other scene in its first frame."""
    root, _ = dataset
    starts = np.cumsum([0] + [e.length for e in episodes[:-1]])
    assert any(s % 2 for s in starts), "the fixture must put an episode start on an odd frame"
    with av.open(str(root / "videos/observation.images.top/chunk-000/file-000.mp4")) as c:
        s = c.streams.video[0]
        keyframes = {round(float(p.pts * s.time_base) * 30) for p in c.demux(s)
                     if p.pts is not None and p.is_keyframe}
    assert set(starts.tolist()) <= keyframes


def test_episodes_metadata_and_per_episode_stats(dataset, episodes):
    root, _ = dataset
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r["episode_index"] for r in rows] == [0, 1, 2, 3]
    assert [r["length"] for r in rows] == [e.length for e in episodes]
    assert rows[1]["dataset_from_index"] == rows[0]["dataset_to_index"] == episodes[0].length
    assert rows[0]["tasks"] == [TASKS[0]] and rows[1]["tasks"] == [TASKS[1]]
    s = vector_stats(episodes[2].state)
    assert np.allclose(rows[2]["stats/observation.state/q50"], s["q50"])
    assert rows[2]["stats/observation.state/count"] == [episodes[2].length]
    img_mean = np.asarray(rows[0]["stats/observation.images.top/mean"])
    assert img_mean.shape == (3, 1, 1)
    # from the decoded frames (what LeRobot reads), not from the frames handed to the encoder
    with av.open(str(root / "videos/observation.images.top/chunk-000/file-000.mp4")) as c:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
    first = decoded[:episodes[0].length]
    assert np.allclose(img_mean.reshape(-1), first.reshape(-1, 3).mean(0) / 255, atol=1e-9)
    assert not np.allclose(img_mean.reshape(-1), episodes[0].images["top"].reshape(-1, 3).mean(0) / 255,
                           atol=1e-6)


def test_stats_json_has_every_feature_with_lerobot_shapes(dataset, episodes):
    root, info = dataset
    stats = json.loads((root / layout.STATS_PATH).read_text())
    assert set(stats) == set(info["features"])
    for key, ft in info["features"].items():
        assert set(stats[key]) == set(layout.STAT_KEYS), key
        if ft["dtype"] == "video":
            assert np.asarray(stats[key]["mean"]).shape == (3, 1, 1)
        else:
            assert len(stats[key]["min"]) == ft["shape"][0]
    all_state = np.concatenate([e.state for e in episodes])
    assert np.allclose(stats["observation.state"]["mean"], all_state.mean(0), atol=1e-6)
    # quantiles as LeRobot aggregates them: the episodes' quantiles weighted by their lengths
    lengths = np.array([e.length for e in episodes], np.float64)
    per_ep = np.array([np.quantile(e.state.astype(np.float64), 0.9, axis=0) for e in episodes])
    assert np.allclose(stats["observation.state"]["q90"], lengths @ per_ep / lengths.sum())
    assert stats["index"]["count"] == [len(all_state)]
    # the exact quantiles of the pooled frames go to the sidecar
    exact = json.loads((root / layout.EXACT_STATS_PATH).read_text())
    assert np.allclose(exact["observation.state"]["q90"], np.quantile(all_state.astype(np.float64), 0.9, axis=0))
    assert set(exact) == set(stats)


def test_the_checker_passes_on_the_written_dataset(dataset):
    root, _ = dataset
    assert check_dataset(root) == []


def test_rollover_by_size_splits_data_video_and_chunks(tmp_path, episodes):
    root = tmp_path / "ds"
    info = write_dataset_dir(root, episodes, data_files_size_in_mb=0.004, video_files_size_in_mb=0.006,
                             chunks_size=2)
    data_files = sorted(p.relative_to(root).as_posix() for p in root.glob("data/*/*.parquet"))
    video_files = sorted(p.relative_to(root).as_posix() for p in root.glob("videos/*/*/*.mp4"))
    assert len(data_files) >= 3 and "data/chunk-001/file-000.parquet" in data_files
    assert len(video_files) >= 2
    assert info["data_files_size_in_mb"] == 0.004
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    used = {layout.data_path(r["data/chunk_index"], r["data/file_index"]) for r in rows}
    assert used == set(data_files)
    assert check_dataset(root) == []


def test_h264_option(tmp_path, episodes):
    root = tmp_path / "ds"
    info = write_dataset_dir(root, episodes[:2], video=VideoSettings.for_name("h264"))
    assert info["features"]["observation.images.top"]["info"]["video.codec"] == "h264"
    assert check_dataset(root) == []


def test_dataset_without_cameras(tmp_path):
    root = tmp_path / "ds"
    info = write_dataset_dir(root, [make_episode(i, frames=15) for i in range(3)])
    assert info["video_path"] is None and not (root / "videos").exists()
    assert check_dataset(root) == []


def test_an_episode_that_does_not_fit_is_refused_before_anything_is_written(tmp_path, episodes):
    writer = DatasetWriter(tmp_path / "ds")
    writer.add_episode(episodes[0])
    bad = make_episode(9, frames=12, cameras=("top",))
    bad.state = bad.state[:, :2]
    with pytest.raises(InvalidInputError, match="observation.state: shape"):
        writer.add_episode(bad)
    nan = make_episode(10, frames=12, cameras=("top",))
    nan.action[3, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        writer.add_episode(nan)
    writer.add_episode(episodes[1])
    info = writer.finish()
    assert info["total_episodes"] == 2
    assert check_dataset(tmp_path / "ds") == []


def test_reservoir_quantiles_stay_within_their_rank_error():
    # 200,000 frames of a smooth joint trajectory: more than the reservoir holds
    t = np.linspace(0, 40 * np.pi, 200_000)
    values = np.stack([np.sin(t), 0.5 * np.cos(3 * t) + 0.1 * t / t[-1], t / t[-1]], axis=1)
    acc = RunningStats(3, np.random.default_rng(0))
    for chunk in np.array_split(values, 700):
        acc.update(chunk)
    res = acc.result()
    assert np.allclose(res["mean"], values.mean(0)) and np.allclose(res["std"], values.std(0))
    assert np.array_equal(res["min"], values.min(0)) and res["count"].tolist() == [200_000]
    for key, q in layout.QUANTILES.items():
        rank = (values <= res[key]).mean(0)
        assert np.all(np.abs(rank - q) < 0.015), (key, rank)


def test_histogram_quantiles_equal_numpy_on_pixels(episodes):
    px = episodes[0].images["top"].reshape(-1, 3)
    hist = np.stack([np.bincount(px[:, c], minlength=256) for c in range(3)])
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        assert np.allclose(histogram_quantiles(hist, q), np.quantile(px, q, axis=0))


def test_vector_stats_match_numpy(episodes):
    values = np.concatenate([e.ee_pose for e in episodes]).astype(np.float64)
    s = vector_stats(values)
    for key, q in layout.QUANTILES.items():
        assert np.allclose(s[key], np.quantile(values, q, axis=0), rtol=0, atol=1e-12)
    assert np.allclose(s["std"], values.std(0)) and np.array_equal(s["min"], values.min(0))


def test_episodes_share_row_groups_and_still_roll_over_by_size(tmp_path):
    # many small episodes: buffered into a few row groups; with a small file limit, into several files
    recs = [make_episode(i, frames=40) for i in range(30)]
    big = write_dataset_dir(tmp_path / "big", recs)
    meta = pq.ParquetFile(tmp_path / "big" / layout.data_path(0, 0)).metadata
    assert big["total_frames"] == 30 * 40 and meta.num_rows == 30 * 40 and meta.num_row_groups < 30
    assert check_dataset(tmp_path / "big") == []
    write_dataset_dir(tmp_path / "small", recs, data_files_size_in_mb=0.02)
    rows = pq.read_table(tmp_path / "small/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    used = {layout.data_path(r["data/chunk_index"], r["data/file_index"]) for r in rows}
    assert len(used) >= 3
    assert used == {p.relative_to(tmp_path / "small").as_posix() for p in (tmp_path / "small").glob("data/*/*.parquet")}
    assert check_dataset(tmp_path / "small") == []


@pytest.mark.parametrize("lengths", [(300,), (37, 37, 37), (1, 2, 37, 300, 5)])
def test_episode_stats_of_a_block_equal_vector_stats_of_each_episode(lengths):
    # a block of episodes back to back, equal lengths (one reshape) or not (padded), float32 and
    # bool-as-float32 columns sorted, index-like columns already in order
    rng = np.random.default_rng(7)
    n = sum(lengths)
    own = rng.normal(size=(n, 9)).astype(np.float32)
    own[:, 8] = rng.random(n) < 0.3
    own[: n // 2, 0] = 2.5  # ties
    starts = np.cumsum((0, *lengths))
    frame = np.concatenate([np.arange(t) for t in lengths]).astype(np.float64)
    ordered = np.stack([np.arange(100, 100 + n), np.repeat(np.arange(len(lengths)), lengths), frame / 30.0])
    stats, m2 = episode_stats(np.ascontiguousarray(own.T), ordered, lengths)
    assert stats["count"].tolist() == [[t] for t in lengths]
    for e, (a, b) in enumerate(pairwise(starts)):
        both = np.concatenate([own[a:b].astype(np.float64), ordered[:, a:b].T], axis=1)
        expected = vector_stats(both)
        assert np.allclose(m2[e], np.square(both - both.mean(0)).sum(0), rtol=1e-12, atol=1e-12)
        for key, want in expected.items():
            if key == "count":
                continue
            exact = key in ("min", "max") or key.startswith("q")
            assert np.allclose(stats[key][e], want, rtol=0 if exact else 1e-12, atol=0 if exact else 1e-12), key


def test_running_stats_of_blocks_equal_the_stats_of_all_frames():
    rng = np.random.default_rng(3)
    lengths = [40, 7, 300, 12]
    frames = rng.normal(size=(sum(lengths), 4)).astype(np.float32)
    ordered = np.arange(sum(lengths), dtype=np.float64)[None]
    acc = RunningStats(5, np.random.default_rng(0), reservoir_rows=10_000, sorted_width=4, dtype=np.float32)
    for a, b in ((0, 2), (2, 3), (3, 4)):  # three blocks of episodes
        lo, hi = sum(lengths[:a]), sum(lengths[:b])
        stats, _ = acc.add_episodes([frames[lo:hi, :3], frames[lo:hi, 3:]], list(ordered[:, lo:hi]), lengths[a:b])
        assert stats["count"][:, 0].tolist() == lengths[a:b]
    res = acc.result()
    want = vector_stats(np.concatenate([frames.astype(np.float64), ordered.T], axis=1))
    for key in ("min", "max", "mean", "std", *layout.QUANTILES):  # reservoir not full: all exact
        assert np.allclose(res[key], want[key], rtol=1e-12, atol=1e-12), key
    assert res["count"].tolist() == [sum(lengths)]


def test_reservoir_replacements_equal_algorithm_r_one_frame_at_a_time():
    # blocks of frames against the textbook loop fed the same random draws: a slot drawn twice
    # within a block must end up holding the later frame
    capacity, blocks = 50, [30, 45, 200, 7, 400]
    frames = np.arange(sum(blocks), dtype=np.float64)[:, None] * np.array([1.0, -1.0])
    acc = RunningStats(2, np.random.default_rng(5), reservoir_rows=capacity)
    draws = np.random.default_rng(5)
    expected, seen = np.empty((capacity, 2)), 0
    for size in blocks:
        block = frames[seen:seen + size]
        acc.update(block)
        take = min(max(0, capacity - seen), size)
        expected[seen:seen + take] = block[:take]
        if take < size:
            slots = draws.integers(0, seen + take + np.arange(size - take) + 1)
            for frame, slot in zip(block[take:], slots, strict=True):
                if slot < capacity:
                    expected[slot] = frame
        seen += size
    assert np.array_equal(acc._own.T, expected)
