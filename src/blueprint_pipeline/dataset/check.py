"""Re-read a LeRobot v3.0 dataset and verify its invariants; every violation becomes a `Problem`.

Checked: info.json fields and counts against the files; tasks; the episodes metadata (contiguous
episode indices, frame ranges that partition [0, total_frames), data file references); the data
parquet files (schema against the features, `index` contiguous from 0, frame_index and task_index
per episode, timestamps = frame_index / fps within 1e-4 s); every video (decodes, frame count and
duration match its episodes' ranges, frame presentation times in sync, frame size); statistics
recomputed from the data against stats.json and the per-episode stats.

Tolerances: moments and extremes are exact up to float rounding. The quantiles in stats.json are
LeRobot's aggregate of the episodes' (their count-weighted mean), checked against the episodes
metadata to float rounding. The exact quantiles in the sidecar `meta/blueprint_stats_exact.json`
come from a reservoir sample (see `stats`), so a stated q-quantile passes when it lies between the
data's order statistics at ranks q - `QUANTILE_RANK_TOL` and q + `QUANTILE_RANK_TOL`. Image
statistics are computed by the writer from the decoded frames, so per-episode channel means must
match the checker's decoding to `IMAGE_MEAN_TOL`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.features import arrow_type
from blueprint_pipeline.dataset.stats import downsample_stride, sampled_frame_indices, vector_stats
from blueprint_pipeline.dataset.tasks_file import read_tasks
from blueprint_pipeline.dataset.video import rational
from blueprint_pipeline.errors import Problem
from blueprint_pipeline.sim.camera_model import pinhole

QUANTILE_RANK_TOL = 0.02
IMAGE_MEAN_TOL = 1e-6
_REQUIRED_INFO = ("codebase_version", "robot_type", "fps", "features", "total_episodes", "total_frames",
                  "total_tasks", "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb",
                  "data_path", "video_path", "splits")


class _Found:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))


def _files(root: Path, folder: str, suffix: str) -> list[Path]:
    return sorted((root / folder).glob(f"chunk-*/file-*{suffix}"))


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def check_dataset(root: str | Path) -> list[Problem]:
    """Every invariant violation found in the dataset at `root` (empty when it is valid)."""
    root = Path(root)
    found = _Found()
    info_path = root / layout.INFO_PATH
    if not info_path.is_file():
        found.add(layout.INFO_PATH, "missing: the dataset was never finished (info.json is written last)")
        return found.problems
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        found.add(layout.INFO_PATH, f"not valid JSON: {exc}")
        return found.problems
    missing = [k for k in _REQUIRED_INFO if k not in info]
    if missing:
        found.add(layout.INFO_PATH, f"missing fields: {', '.join(missing)}")
        return found.problems
    if info["codebase_version"] != layout.CODEBASE_VERSION:
        found.add(f"{layout.INFO_PATH}: codebase_version",
                  f"is {info['codebase_version']!r}, want {layout.CODEBASE_VERSION!r}")
    if info["data_path"] != layout.DATA_PATH:
        found.add(f"{layout.INFO_PATH}: data_path", f"is {info['data_path']!r}, want {layout.DATA_PATH!r}")
    features: dict[str, dict] = info["features"]
    _check_features(features, found)
    fps = info["fps"]
    if not isinstance(fps, int) or fps <= 0:
        found.add(f"{layout.INFO_PATH}: fps", f"must be a positive integer, is {fps!r}")
        return found.problems
    if info["splits"] != {"train": f"0:{info['total_episodes']}"}:
        found.add(f"{layout.INFO_PATH}: splits", f"is {info['splits']!r}, want train 0:{info['total_episodes']}")

    tasks = _guarded(found, "meta/tasks.parquet", lambda: _check_tasks(root, info, found)) or {}
    episodes = _guarded(found, layout.EPISODES_DIR, lambda: _check_episodes(root, info, tasks, found))
    if episodes is None:
        return found.problems
    columns = _guarded(found, "data", lambda: _check_data(root, info, episodes, tasks, found))
    _guarded(found, "videos", lambda: _check_videos(root, info, episodes, found))
    if columns is not None:
        _guarded(found, layout.STATS_PATH, lambda: _check_stats(root, info, episodes, columns, found))
    return found.problems


def _guarded(found: _Found, where: str, fn):
    """Run one group of checks; a file too damaged for them becomes a problem, not a traceback."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - corrupted input can fail in any library below us
        first_line = (str(exc).splitlines() or [""])[0][:200]
        found.add(where, f"could not be checked: {type(exc).__name__}: {first_line}")
        return None


def _check_features(features: dict[str, dict], found: _Found) -> None:
    for key in layout.INDEX_FEATURES:
        if key not in features:
            found.add(f"{layout.INFO_PATH}: features", f"missing the {key!r} feature")
    for key, ft in features.items():
        where = f"{layout.INFO_PATH}: features.{key}"
        if not isinstance(ft, dict) or not {"dtype", "shape", "names"} <= set(ft):
            found.add(where, "needs dtype, shape and names")
            continue
        shape = ft["shape"]
        if not isinstance(shape, list) or not shape or not all(isinstance(s, int) and s > 0 for s in shape):
            found.add(where, f"shape {shape!r} is not a list of positive integers")
            continue
        names = ft["names"]
        if ft["dtype"] == "video":
            if len(shape) != 3 or names != ["height", "width", "channels"]:
                found.add(where, "a video feature has shape [H, W, C] and names [height, width, channels]")
        elif isinstance(names, list) and len(names) != shape[0]:
            found.add(where, f"{len(names)} names for shape {shape}")


def _check_tasks(root: Path, info: dict, found: _Found) -> dict[str, int]:
    try:
        tasks = read_tasks(root / layout.TASKS_PATH)
    except (OSError, ValueError, pa.ArrowException) as exc:
        found.add(layout.TASKS_PATH, f"unreadable: {exc}")
        return {}
    if sorted(tasks.values()) != list(range(len(tasks))):
        found.add(layout.TASKS_PATH, "task_index values are not 0..n-1")
    if len(tasks) != info["total_tasks"]:
        found.add(f"{layout.INFO_PATH}: total_tasks", f"says {info['total_tasks']}, tasks.parquet has {len(tasks)}")
    return tasks


def _check_episodes(root: Path, info: dict, tasks: dict[str, int], found: _Found) -> list[dict] | None:
    files = _files(root, layout.EPISODES_DIR, ".parquet")
    if not files:
        found.add(layout.EPISODES_DIR, "no episodes metadata files")
        return None
    episodes: list[dict] = []
    for f in files:
        try:
            table = pq.read_table(f, columns=None)
        except (OSError, pa.ArrowException) as exc:
            found.add(_rel(root, f), f"unreadable: {exc}")
            return None
        keep = [c for c in table.column_names if not c.startswith("stats/")]
        rows = table.select(keep).to_pylist()
        stats_cols = [c for c in table.column_names if c.startswith("stats/")]
        for i, row in enumerate(rows):
            row["_stats"] = {c: table.column(c)[i].as_py() for c in stats_cols}
            row["_file"] = _rel(root, f)
        episodes.extend(rows)
    n = len(episodes)
    if n != info["total_episodes"]:
        found.add(f"{layout.INFO_PATH}: total_episodes", f"says {info['total_episodes']}, metadata lists {n}")
    if [e.get("episode_index") for e in episodes] != list(range(n)):
        found.add(layout.EPISODES_DIR, "episode_index is not contiguous from 0 in file order")
    expected_from = 0
    for e in episodes:
        where = f"{e['_file']}: episode {e.get('episode_index')}"
        if e.get("dataset_from_index") != expected_from:
            found.add(where, f"dataset_from_index {e.get('dataset_from_index')}, want {expected_from} "
                             "(episode ranges must partition the frames)")
        if e.get("dataset_to_index", 0) - e.get("dataset_from_index", 0) != e.get("length"):
            found.add(where, f"range [{e.get('dataset_from_index')}, {e.get('dataset_to_index')}) "
                             f"does not hold length {e.get('length')}")
        for t in e.get("tasks") or []:
            if t not in tasks:
                found.add(where, f"task {t!r} is not in tasks.parquet")
        expected_from = e.get("dataset_to_index", expected_from)
        _check_cameras(e, info, where, found)
    total = sum(int(e.get("length") or 0) for e in episodes)
    if total != info["total_frames"] or expected_from != info["total_frames"]:
        found.add(f"{layout.INFO_PATH}: total_frames",
                  f"says {info['total_frames']}, episodes hold {total} frames ending at index {expected_from}")
    return episodes


def _check_cameras(episode: dict, info: dict, where: str, found: _Found) -> None:
    """A camera's intrinsics (sim/camera_model.py) match its frames' size; an episode's extrinsics
    (null for episodes another recorder added, as a LeRobot merge leaves them) are rigid."""
    for key, ft in info["features"].items():
        cam = (ft.get("info") or {}) if ft.get("dtype") == "video" else {}
        if "camera.fx" not in cam:
            continue
        h, w = ft["shape"][:2]
        want = pinhole(cam["camera.fovy_deg"], w, h)
        if any(abs(cam.get(f"camera.{k}", np.nan) - v) > 1e-6 for k, v in want.items()):
            found.add(f"{layout.INFO_PATH}: features.{key}.info", f"camera intrinsics do not match a "
                                                                  f"{w}x{h} pinhole of {cam['camera.fovy_deg']} deg")
        e = episode.get(layout.extrinsics_column(key))
        if e is None:
            continue
        m = np.asarray(e, dtype=float).reshape(4, 4) if len(e) == 16 else None
        if (m is None or not np.all(np.isfinite(m)) or not np.allclose(m[3], [0, 0, 0, 1])
                or not np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-6)):
            found.add(where, f"{layout.extrinsics_column(key)} is not a rigid 4x4 transform")


def _check_data(root: Path, info: dict, episodes: list[dict], tasks: dict[str, int],
                found: _Found) -> dict[str, np.ndarray] | None:
    features = info["features"]
    files = _files(root, "data", ".parquet")
    if not files:
        found.add("data", "no data files")
        return None
    want_cols = [k for k, ft in features.items() if ft["dtype"] != "video"]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in want_cols}
    file_of_row: list[np.ndarray] = []
    schema_ok = True
    for fi, f in enumerate(files):
        rel = _rel(root, f)
        try:
            table = pq.read_table(f)
        except (OSError, pa.ArrowException) as exc:
            found.add(rel, f"unreadable: {exc}")
            return None
        names = table.column_names
        if sorted(names) != sorted(want_cols):
            found.add(rel, f"columns {sorted(set(names) ^ set(want_cols))} differ from the features")
            schema_ok = False
            continue
        for k in want_cols:
            typ = table.schema.field(k).type
            if typ != arrow_type(features[k]):
                found.add(rel, f"column {k} has type {typ}, features say {arrow_type(features[k])}")
                schema_ok = False
        if not schema_ok:
            continue
        for k in want_cols:
            col = table.column(k).combine_chunks()
            arr = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), -1) \
                if pa.types.is_fixed_size_list(col.type) else col.to_numpy(zero_copy_only=False)
            parts[k].append(arr)
        file_of_row.append(np.full(table.num_rows, fi))
    if not schema_ok:
        return None
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    file_idx = np.concatenate(file_of_row)
    n = len(cols["index"])
    if n != info["total_frames"]:
        found.add(f"{layout.INFO_PATH}: total_frames", f"says {info['total_frames']}, data files hold {n} rows")
    if not np.array_equal(cols["index"], np.arange(n)):
        bad = int(np.argmax(cols["index"] != np.arange(n)))
        found.add("data", f"`index` is not contiguous from 0: row {bad} has {int(cols['index'][bad])}")
    fps = info["fps"]
    for e in episodes:
        a, b = e.get("dataset_from_index", 0), e.get("dataset_to_index", 0)
        where = f"data: episode {e['episode_index']}"
        if b > n or a < 0 or a >= b:
            found.add(where, f"range [{a}, {b}) lies outside the {n} data rows")
            continue
        if not (cols["episode_index"][a:b] == e["episode_index"]).all():
            found.add(where, f"rows [{a}, {b}) do not all carry episode_index {e['episode_index']}")
        fi = cols["frame_index"][a:b]
        if not np.array_equal(fi, np.arange(b - a)):
            found.add(where, "frame_index is not 0..length-1")
        err = np.abs(cols["timestamp"][a:b].astype(np.float64) - np.arange(b - a) / fps)
        if err.max() > layout.TIMESTAMP_TOLERANCE_S:
            k = int(np.argmax(err))
            found.add(where, f"timestamp of frame {k} is {float(cols['timestamp'][a + k]):.6f}, "
                             f"want {k / fps:.6f} (frame_index / fps within 1e-4 s)")
        want_task = tasks.get((e.get("tasks") or [None])[0])
        if want_task is not None and not (cols["task_index"][a:b] == want_task).all():
            found.add(where, f"task_index differs from the episode's task ({want_task})")
        files_here = set(file_idx[a:b].tolist())
        expected = layout.data_path(e.get("data/chunk_index", -1), e.get("data/file_index", -1))
        if {_rel(root, files[i]) for i in files_here} != {expected}:
            found.add(where, f"rows are in {sorted(_rel(root, files[i]) for i in files_here)}, "
                             f"metadata says {expected}")
    return cols


def _decode_times(path: Path) -> Iterator[tuple[float, Any]]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = rational(s.time_base)
        for frame in c.decode(s):
            yield float(frame.pts * tb), frame


def _check_videos(root: Path, info: dict, episodes: list[dict], found: _Found) -> None:
    fps = info["fps"]
    for key, ft in info["features"].items():
        if ft["dtype"] != "video":
            continue
        by_file: dict[str, list[dict]] = {}
        for e in episodes:
            c, f = e.get(f"videos/{key}/chunk_index"), e.get(f"videos/{key}/file_index")
            if c is None or f is None:
                found.add(f"{e['_file']}: episode {e['episode_index']}", f"no video reference for {key}")
                continue
            by_file.setdefault(layout.video_path(key, c, f), []).append(e)
        on_disk = {_rel(root, p) for p in _files(root, f"videos/{key}", ".mp4")}
        for extra in sorted(on_disk - set(by_file)):
            found.add(extra, "video file not referenced by any episode")
        for rel, eps in by_file.items():
            _check_video_file(root, rel, eps, key, ft, fps, found)


def _check_video_file(root: Path, rel: str, eps: list[dict], key: str, ft: dict, fps: int,
                      found: _Found) -> None:
    import av

    path = root / rel
    if not path.is_file():
        found.add(rel, "missing")
        return
    expected_start = 0.0
    for e in eps:
        a, b = e.get(f"videos/{key}/from_timestamp"), e.get(f"videos/{key}/to_timestamp")
        if not isinstance(a, float | int) or not isinstance(b, float | int):
            found.add(rel, f"episode {e['episode_index']} has no from/to timestamps for {key}")
            return
        if abs(a - expected_start) > layout.TIMESTAMP_TOLERANCE_S:
            found.add(rel, f"episode {e['episode_index']} starts at {a:.6f} s, want {expected_start:.6f} s")
        if abs((b - a) - e["length"] / fps) > layout.TIMESTAMP_TOLERANCE_S:
            found.add(rel, f"episode {e['episode_index']} spans {b - a:.6f} s for {e['length']} frames")
        expected_start = b
    want_frames = sum(e["length"] for e in eps)
    h, w = ft["shape"][0], ft["shape"][1]
    times: list[float] = []
    # decoded frames of the sampled stats frames, per episode, to compare channel means
    sample = {}
    offset = 0
    for e in eps:
        sample.update({offset + int(k): (e, int(k)) for k in sampled_frame_indices(e["length"])})
        offset += e["length"]
    sums: dict[int, list[np.ndarray]] = {}
    try:
        for n, (t, frame) in enumerate(_decode_times(path)):
            times.append(t)
            if frame.height != h or frame.width != w:
                found.add(rel, f"frame {n} is {frame.width}x{frame.height}, features say {w}x{h}")
                return
            if n in sample:
                e, _ = sample[n]
                stride = downsample_stride(h, w)  # as the writer samples pixels
                px = frame.to_ndarray(format="rgb24")[::stride, ::stride]
                sums.setdefault(e["episode_index"], []).append(px.reshape(-1, 3).mean(0) / 255.0)
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            duration = float(s.duration * rational(s.time_base)) if s.duration is not None else None
    except (av.FFmpegError, OSError) as exc:
        found.add(rel, f"does not decode: {exc}")
        return
    if len(times) != want_frames:
        found.add(rel, f"{len(times)} frames, its episodes' ranges need {want_frames}")
        return
    if duration is not None and abs(duration - want_frames / fps) > layout.TIMESTAMP_TOLERANCE_S:
        found.add(rel, f"duration {duration:.6f} s, its episodes' ranges need {want_frames / fps:.6f} s")
    err = np.abs(np.asarray(times) - np.arange(want_frames) / fps)
    if err.max() > layout.TIMESTAMP_TOLERANCE_S:
        k = int(np.argmax(err))
        found.add(rel, f"frame {k} presented at {times[k]:.6f} s, want {k / fps:.6f} s")
    for e in eps:
        stats_mean = e["_stats"].get(f"stats/{key}/mean")
        got = sums.get(e["episode_index"])
        if stats_mean is None or not got:
            found.add(f"{e['_file']}: episode {e['episode_index']}", f"no stats for {key}")
            continue
        decoded = np.mean(got, axis=0)
        stated = np.asarray(stats_mean, dtype=np.float64).reshape(-1)
        if stated.shape != decoded.shape or np.abs(stated - decoded).max() > IMAGE_MEAN_TOL:
            found.add(f"{e['_file']}: episode {e['episode_index']}",
                      f"stats/{key}/mean {np.round(stated, 3).tolist()} vs decoded frames "
                      f"{np.round(decoded, 3).tolist()} (tolerance {IMAGE_MEAN_TOL})")
        count = e["_stats"].get(f"stats/{key}/count")
        if count != [len(sampled_frame_indices(e["length"]))]:
            found.add(f"{e['_file']}: episode {e['episode_index']}", f"stats/{key}/count is {count}")


def _close(a: Any, b: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    try:
        arr = np.asarray(a, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return False
    return arr.shape == b.reshape(-1).shape and bool(np.allclose(arr, b.reshape(-1), rtol=rtol, atol=atol))


def _quantile_ok(values: np.ndarray, stated: Any, q: float) -> bool:
    """`stated` lies between the order statistics at ranks q - tol and q + tol of each column."""
    try:
        v = np.asarray(stated, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return False
    if v.shape[0] != values.shape[1]:
        return False
    lo = np.quantile(values, max(0.0, q - QUANTILE_RANK_TOL), axis=0, method="lower")
    hi = np.quantile(values, min(1.0, q + QUANTILE_RANK_TOL), axis=0, method="higher")
    eps = 1e-9 * np.maximum(1.0, np.abs(v))
    return bool(((lo - eps <= v) & (v <= hi + eps)).all())


def _check_stats(root: Path, info: dict, episodes: list[dict], cols: dict[str, np.ndarray],
                 found: _Found) -> None:
    try:
        stats = json.loads((root / layout.STATS_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        found.add(layout.STATS_PATH, f"unreadable: {exc}")
        return
    exact_stats: dict[str, Any] = {}
    exact_path = root / layout.EXACT_STATS_PATH
    if exact_path.is_file():  # optional: LeRobot's tools do not copy it
        try:
            exact_stats = json.loads(exact_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            found.add(layout.EXACT_STATS_PATH, f"unreadable: {exc}")
    features = info["features"]
    for key in sorted(set(features) - set(stats)):
        found.add(layout.STATS_PATH, f"no statistics for feature {key}")
    for key, ft in features.items():
        s = stats.get(key)
        if s is None:
            continue
        missing = [k for k in layout.STAT_KEYS if k not in s]
        if missing:
            found.add(f"{layout.STATS_PATH}: {key}", f"missing {', '.join(missing)}")
            continue
        if ft["dtype"] == "video":
            _check_image_stats(key, s, episodes, found)
            continue
        values = cols[key].astype(np.float64).reshape(len(cols[key]), -1)
        exact = vector_stats(values)
        for stat in ("min", "max", "mean", "std", "count"):
            if not _close(s[stat], exact[stat]):
                found.add(f"{layout.STATS_PATH}: {key}.{stat}",
                          f"is {s[stat]}, recomputed from the data: {exact[stat].tolist()}")
        _check_quantile_mean(key, s, episodes, found)
        sidecar = exact_stats.get(key)
        for qk, q in layout.QUANTILES.items():
            if sidecar is not None and not _quantile_ok(values, sidecar.get(qk), q):
                found.add(f"{layout.EXACT_STATS_PATH}: {key}.{qk}",
                          f"is {sidecar.get(qk)}, not the {q:.2f} quantile of the data "
                          f"(rank tolerance {QUANTILE_RANK_TOL})")
        for e in episodes:
            a, b = e["dataset_from_index"], e["dataset_to_index"]
            ep_exact = vector_stats(values[a:b])
            for stat in layout.STAT_KEYS:
                got = e["_stats"].get(f"stats/{key}/{stat}")
                if not _close(got, ep_exact[stat]):
                    found.add(f"{e['_file']}: episode {e['episode_index']}",
                              f"stats/{key}/{stat} is {got}, recomputed: {ep_exact[stat].tolist()}")


def _check_quantile_mean(key: str, s: dict, episodes: list[dict], found: _Found) -> None:
    """stats.json quantiles are the episodes' quantiles averaged with their counts as weights
    (LeRobot's `aggregate_stats`)."""
    counts = np.array([(e["_stats"].get(f"stats/{key}/count") or [0])[0] for e in episodes], np.float64)
    for qk in layout.QUANTILES:
        try:
            per_ep = np.array([np.asarray(e["_stats"][f"stats/{key}/{qk}"], np.float64).reshape(-1)
                               for e in episodes])
        except (KeyError, TypeError, ValueError):
            found.add(f"{layout.STATS_PATH}: {key}.{qk}", "the episodes metadata lacks this quantile")
            continue
        want = counts @ per_ep / max(counts.sum(), 1.0)
        if not _close(s[qk], want, rtol=1e-9, atol=1e-9):
            found.add(f"{layout.STATS_PATH}: {key}.{qk}",
                      f"is {s[qk]}, the episodes' count-weighted mean is {want.tolist()}")


def _check_image_stats(key: str, s: dict, episodes: list[dict], found: _Found) -> None:
    where = f"{layout.STATS_PATH}: {key}"
    arrays = {}
    for stat in layout.STAT_KEYS:
        if stat == "count":
            continue
        a = np.asarray(s[stat], dtype=np.float64)
        if a.shape != (3, 1, 1):
            found.add(where, f"{stat} has shape {list(a.shape)}, want [3, 1, 1]")
            return
        if (a < 0).any() or (a > 1).any():
            found.add(where, f"{stat} lies outside [0, 1]")
        arrays[stat] = a.reshape(-1)
    order = ["min", "q01", "q10", "q50", "q90", "q99", "max"]
    if any((arrays[order[i]] > arrays[order[i + 1]] + 1e-12).any() for i in range(len(order) - 1)):
        found.add(where, "min <= q01 <= ... <= q99 <= max does not hold")
    counts = [e["_stats"].get(f"stats/{key}/count", [0])[0] for e in episodes]
    if s["count"] != [sum(counts)]:
        found.add(f"{where}.count", f"is {s['count']}, the episodes sampled {sum(counts)} frames")
    means = np.array([np.asarray(e["_stats"].get(f"stats/{key}/mean"), np.float64).reshape(-1) for e in episodes])
    weighted = (means * np.asarray(counts)[:, None]).sum(0) / max(sum(counts), 1)
    if not np.allclose(arrays["mean"], weighted, atol=1e-6):
        found.add(f"{where}.mean", f"is {arrays['mean'].round(4).tolist()}, the episodes' frame-weighted "
                                   f"mean is {weighted.round(4).tolist()}")
    _check_quantile_mean(key, s, episodes, found)
