"""Benchmark of the LeRobot dataset writer against the raw limits, side by side in one run.

    python bench/dataset.py [--episodes 40] [--frames 300] [--size 128] [--codec av1] [--memory-episodes 1000]

Rows:
- writer, no video: DatasetWriter on the arrays only. Limits, each the same data columns written
  with a bare ParquetWriter (same compression and dictionary settings, nothing else):
  1. one `write_table` per episode;
  2. per-episode tables concatenated into the writer's row groups (~2 MB of arrow data);
  3. the episodes' arrays concatenated per row group and made one table (the way the writer
     builds its tables; the strictest limit).
- writer, with video: DatasetWriter with one camera; limit: the bare parquet write plus a bare
  PyAV encode of the same frames with the same codec settings into one file.
- peak memory (VmHWM of a fresh process) writing --memory-episodes episodes without video and
  --memory-video-episodes with video, next to its size after imports, to show that it does not
  grow with the number of episodes.

What the writer does beyond the limits' work (all of it required by the format or the brief):
per episode it checks shapes and that every value is finite, and keeps its metadata row; per row
group it computes the exact statistics of every feature of every episode in it (min, max, mean,
std, count and five quantiles: one sort of the block's float32 columns as order-preserving
integers, moments in float64), merges them into the dataset's running moments and samples frames
into the reservoir behind the dataset quantiles; at the end it writes meta/episodes (one row per
episode with those ~1,300 statistics in ~150 columns), meta/tasks.parquet, meta/stats.json
(dataset quantiles selected from the reservoir) and meta/info.json. Those end-of-dataset files
are a fixed cost: they weigh more on a small dataset (see --episodes).

Ratios are wall time (what frames per second means) and CPU time (all threads of the process) of
the best of --repeats runs, the writer and its limits measured one after the other in each run;
the last two columns are the spread of each ratio over the runs (each run's writer over the same
run's limit). The writer encodes its parquet row groups on a second thread while its main thread
checks episodes and computes statistics and metadata, so its wall ratio is lower than its CPU
ratio; a bare pyarrow write has no second thread to use (ParquetWriter encodes a file on the
calling thread).

Arrays are a smooth 7-joint trajectory (sines and a minimum-jerk gripper) and frames are rendered
by MuJoCo (a two-link arm scene, EGL) once and reused across episodes, since rendering is not
what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Self

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SVT_LOG", "1")

from blueprint_pipeline.dataset.features import data_schema
from blueprint_pipeline.dataset.video import VideoSettings
from blueprint_pipeline.dataset.writer import (
    DatasetWriter,
    WriterOptions,
    row_group_bytes,
)
from blueprint_pipeline.sim.records import EpisodeRecord, task_state

SCENE = """
<mujoco><compiler angle="radian"/><visual><quality shadowsize="0"/></visual>
<worldbody><light pos="0 0 2" dir="0 0 -1"/><geom type="plane" size="1 1 .05" rgba=".8 .8 .75 1"/>
<camera name="top" pos="0.25 0.1 1.4" xyaxes="1 0 0 0 1 0"/>
<body pos="0 0 .05"><joint name="a" type="hinge" axis="0 0 1"/>
<geom type="capsule" fromto="0 0 0 .3 0 0" size=".03" rgba=".2 .4 .8 1"/>
<body pos=".3 0 0"><joint name="b" type="hinge" axis="0 0 1"/>
<geom type="capsule" fromto="0 0 0 .25 0 0" size=".025" rgba=".9 .5 .1 1"/></body></body>
<body pos=".35 .25 .03"><freejoint/><geom type="box" size=".03 .03 .03" rgba=".8 .1 .1 1"/></body>
</worldbody></mujoco>
"""


def render_frames(n: int, size: int) -> np.ndarray:
    import mujoco

    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    out = np.empty((n, size, size, 3), np.uint8)
    with mujoco.Renderer(model, size, size) as r:
        for k in range(n):
            data.qpos[0] = 1.2 * np.sin(2 * np.pi * k / n)
            data.qpos[1] = 0.8 * np.sin(4 * np.pi * k / n)
            mujoco.mj_forward(model, data)
            r.update_scene(data, camera="top")
            out[k] = r.render()
    return out


def make_episode(i: int, frames: int, images: np.ndarray | None) -> EpisodeRecord:
    t = np.arange(frames) / 30.0
    phase = 0.3 * i
    q = np.stack([0.8 * np.sin(0.7 * t * (j + 1) + phase) for j in range(7)], 1)
    s = np.clip(t / t[-1], 0, 1)
    grip = 0.04 * (1 - (10 * s**3 - 15 * s**4 + 6 * s**5))
    state = np.concatenate([q, grip[:, None]], 1).astype(np.float32)
    vel = np.gradient(state, 1 / 30.0, axis=0).astype(np.float32)
    ee = np.concatenate([0.5 + 0.1 * np.sin(q[:, :3]), np.tile([1.0, 0, 0, 0], (frames, 1))], 1).astype(np.float32)
    obj = np.concatenate([np.tile([0.4, 0.1, 0.8], (frames, 1)) + 0.01 * q[:, 3:6],
                          np.tile([1.0, 0, 0, 0], (frames, 1))], 1).astype(np.float32)
    done = np.zeros(frames, bool)
    done[-1] = True
    return EpisodeRecord(
        episode_index=i, task_id="t", task_description="pick the mug and place it on the shelf", robot="franka",
        seed=0, fps=30, success=True, failure_reason=None, joint_names=[f"j{k}" for k in range(7)],
        object_ids=["mug"], contact_names=["left", "right"], state=state, velocity=vel, ee_pose=ee,
        object_poses=obj, action=np.roll(state, -1, 0), contact=(np.abs(q[:, :2]) > 0.5).astype(np.float32),
        reward=done.astype(np.float32), done=done, success_flags=done.copy(),
        task_state=task_state(obj, (0.5, 0.3, 0.8)),
        images={} if images is None else {"top": images[:frames]})


class Clock:
    """Wall and CPU time (all threads of this process) of a block."""

    def __enter__(self) -> Self:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def time_writer(root: Path, episodes: list[EpisodeRecord], codec: str) -> Clock:
    with Clock() as c:
        w = DatasetWriter(root, WriterOptions(video=VideoSettings.for_name(codec)))
        for e in episodes:
            w.add_episode(e)
        w.finish()
    return c


def _episode_columns(e: EpisodeRecord, features: dict, start: int) -> dict[str, np.ndarray]:
    """The episode's data columns and index columns, as the limits write them."""
    from blueprint_pipeline.dataset.features import frame_arrays

    cols = frame_arrays(e, features)
    fi = np.arange(e.length, dtype=np.int64)
    cols.update(timestamp=(fi / 30).astype(np.float32), frame_index=fi,
                episode_index=np.full(e.length, e.episode_index, np.int64),
                index=np.arange(start, start + e.length, dtype=np.int64),
                task_index=np.zeros(e.length, np.int64))
    return cols


def time_raw_parquet(path: Path, episodes: list[EpisodeRecord], group_bytes: float = 0) -> Clock:
    """The same per-episode tables, built and written with nothing else (no stats, no metadata),
    one write_table per episode; with `group_bytes`, buffered into row groups of that many arrow
    bytes the way the writer does."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from blueprint_pipeline.dataset.features import build_features
    from blueprint_pipeline.dataset.writer import _column

    features = {k: v for k, v in build_features(episodes[0]).items() if v["dtype"] != "video"}
    schema = data_schema(features)
    with Clock() as clock, pq.ParquetWriter(str(path), schema, compression="snappy") as pw:
        start, pending, pending_bytes = 0, [], 0
        for e in episodes:
            cols = _episode_columns(e, features, start)
            table = pa.table([_column(cols[f.name], features[f.name]) for f in schema], schema=schema)
            start += e.length
            pending.append(table)
            pending_bytes += table.nbytes
            if pending_bytes >= group_bytes:
                pw.write_table(pending[0] if len(pending) == 1 else pa.concat_tables(pending))
                pending, pending_bytes = [], 0
        if pending:
            pw.write_table(pa.concat_tables(pending))
    return clock


def time_raw_parquet_blocks(path: Path, episodes: list[EpisodeRecord], group_bytes: float) -> Clock:
    """The same columns in the writer's row groups, with the episodes' arrays concatenated per row
    group and made into one table (no per-episode tables), written with nothing else."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from blueprint_pipeline.dataset.features import build_features
    from blueprint_pipeline.dataset.writer import _column

    features = {k: v for k, v in build_features(episodes[0]).items() if v["dtype"] != "video"}
    schema = data_schema(features)
    with Clock() as clock, pq.ParquetWriter(str(path), schema, compression="snappy") as pw:
        start, pending, pending_bytes, row_bytes = 0, [], 0.0, 0.0

        def table_of(arrays: list[dict[str, np.ndarray]]) -> pa.Table:
            cols = {k: np.concatenate([a[k] for a in arrays]) for k in arrays[0]}
            return pa.table([_column(cols[f.name], features[f.name]) for f in schema], schema=schema)

        for e in episodes:
            cols = _episode_columns(e, features, start)
            start += e.length
            if not row_bytes:  # fixed-width columns: bytes per frame from the first episode
                row_bytes = table_of([cols]).nbytes / e.length
            pending.append(cols)
            pending_bytes += row_bytes * e.length
            if pending_bytes >= group_bytes:
                pw.write_table(table_of(pending))
                pending, pending_bytes = [], 0.0
        if pending:
            pw.write_table(table_of(pending))
    return clock


def time_raw_encode(path: Path, episodes: list[EpisodeRecord], codec: str) -> Clock:
    import av

    settings = VideoSettings.for_name(codec)
    with Clock() as clock, av.open(str(path), "w") as c:
        h, w = episodes[0].images["top"].shape[1:3]
        s = c.add_stream(settings.codec, rate=30, options=settings.codec_options())
        s.width, s.height, s.pix_fmt = w, h, settings.pix_fmt
        n = 0
        for e in episodes:
            for img in e.images["top"]:
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = n, Fraction(1, 30)
                n += 1
                c.mux(s.encode(f))
        c.mux(s.encode())
    return clock


def _rss_mb() -> float:
    return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmRSS:")) / 1024


BASE_RSS_MB = _rss_mb() if __name__ == "__main__" else 0.0  # after this module's imports


def memory_child(episodes: int, frames: int, size: int, video: bool, codec: str) -> None:
    images = render_frames(frames, size) if video else None
    with tempfile.TemporaryDirectory() as tmp:
        w = DatasetWriter(Path(tmp) / "ds", WriterOptions(video=VideoSettings.for_name(codec)))
        for i in range(episodes):
            w.add_episode(make_episode(i, frames, images))
        w.finish()
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak
    hwm_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmHWM:"))
    print(json.dumps({"max_rss_mb": hwm_kb / 1024, "after_imports_mb": BASE_RSS_MB}))


def peak_rss_mb(episodes: int, frames: int, size: int, video: bool, codec: str) -> tuple[float, float]:
    """(peak RSS, RSS after imports) of a fresh process writing the episodes, in MB."""
    cmd = [sys.executable, __file__, "--memory-child", str(episodes), "--frames", str(frames), "--size", str(size),
           "--codec", codec] + (["--video"] if video else [])
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    return out["max_rss_mb"], out["after_imports_mb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--codec", default="av1")
    ap.add_argument("--memory-episodes", type=int, default=1000)
    ap.add_argument("--memory-video-episodes", type=int, default=100)
    ap.add_argument("--skip-video", action="store_true", help="only the no-video row")
    ap.add_argument("--repeats", type=int, default=3, help="best of N interleaved runs (the machine is shared)")
    ap.add_argument("--memory-child", type=int, default=None)
    ap.add_argument("--video", action="store_true")
    a = ap.parse_args()
    if a.memory_child is not None:
        memory_child(a.memory_child, a.frames, a.size, a.video, a.codec)
        return

    images = None if a.skip_video else render_frames(a.frames, a.size)
    plain = [make_episode(i, a.frames, None) for i in range(a.episodes)]
    with_video = [] if a.skip_video else [make_episode(i, a.frames, images) for i in range(a.episodes)]
    n = a.episodes * a.frames
    runs: dict[str, list[Clock]] = {"raw_pq": [], "raw_pq_groups": [], "raw_pq_blocks": [], "plain": [],
                                    "raw_av": [], "video": []}
    group_bytes = row_group_bytes(WriterOptions().data_files_size_in_mb * 1024 * 1024)
    for r in range(a.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            runs["raw_pq"].append(time_raw_parquet(tmp / "raw.parquet", plain))
            runs["raw_pq_groups"].append(time_raw_parquet(tmp / "raw_groups.parquet", plain, group_bytes))
            runs["raw_pq_blocks"].append(time_raw_parquet_blocks(tmp / "raw_blocks.parquet", plain, group_bytes))
            runs["plain"].append(time_writer(tmp / f"plain{r}", plain, a.codec))
            if with_video:
                runs["raw_av"].append(time_raw_encode(tmp / "raw.mp4", with_video, a.codec))
                runs["video"].append(time_writer(tmp / f"video{r}", with_video, a.codec))
    wall = {k: min(c.wall for c in v) for k, v in runs.items() if v}
    cpu = {k: min(c.cpu for c in v) for k, v in runs.items() if v}
    print(f"{a.episodes} episodes x {a.frames} frames = {n} frames; camera {a.size}x{a.size}, codec {a.codec}; "
          f"best of {a.repeats}")
    print("| what | writer frames/s | limit frames/s | writer / limit, wall time | writer / limit, CPU time "
          "| wall ratio, spread over runs | CPU ratio, spread over runs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = (("no video (limit 1: raw pyarrow write, a table per episode)", ["plain"], ["raw_pq"]),
            ("no video (limit 2: raw pyarrow write in the writer's row groups)", ["plain"], ["raw_pq_groups"]),
            ("no video (limit 3: raw pyarrow write, arrays concatenated per row group)", ["plain"],
             ["raw_pq_blocks"]),
            ("with video (limit: raw pyarrow + raw PyAV encode)", ["video"], ["raw_pq", "raw_av"]))
    for label, mine, limit in rows:
        if not all(k in wall for k in mine + limit):
            continue
        w_mine, w_lim = sum(wall[k] for k in mine), sum(wall[k] for k in limit)
        c_mine, c_lim = sum(cpu[k] for k in mine), sum(cpu[k] for k in limit)
        spread = {}
        for what in ("wall", "cpu"):
            per_run = [sum(getattr(runs[k][r], what) for k in mine) / sum(getattr(runs[k][r], what) for k in limit)
                       for r in range(a.repeats)]
            spread[what] = f"{min(per_run):.2f}-{max(per_run):.2f}"
        print(f"| {label} | {n / w_mine:,.0f} | {n / w_lim:,.0f} | {w_mine / w_lim:.2f} | {c_mine / c_lim:.2f} "
              f"| {spread['wall']} | {spread['cpu']} |")
    if a.memory_episodes <= 0:
        return
    print()
    print("| writing, in a fresh process | peak RSS, MB | RSS after imports, MB |")
    print("|---|---:|---:|")
    for eps in sorted({max(1, a.memory_episodes // 10), a.memory_episodes}):
        peak, base = peak_rss_mb(eps, a.frames, a.size, False, a.codec)
        print(f"| {eps} episodes x {a.frames} frames, no video | {peak:.0f} | {base:.0f} |")
    for eps in sorted({max(1, a.memory_video_episodes // 10), a.memory_video_episodes} if not a.skip_video else ()):
        peak, base = peak_rss_mb(eps, a.frames, a.size, True, a.codec)
        print(f"| {eps} episodes x {a.frames} frames, {a.size}x{a.size} video | {peak:.0f} | {base:.0f} |")


if __name__ == "__main__":
    main()
