"""LeRobot v3.0 dataset writer: episodes are appended one at a time, memory stays bounded.

Per episode: its arrays are checked and buffered, and each camera's frames go to that camera's
open MP4. Buffered episodes become one row group of the open data parquet file per about
`DATA_ROW_GROUP_BYTES` of arrow data (or `META_ROWS_PER_GROUP` episodes, whichever comes first):
their columns are concatenated once, the index columns built for the whole block, and the exact
statistics of every episode in the block computed by a few numpy calls over it (not a Python loop
per episode or per frame), while the row group is encoded on a background thread (`WriteBehind`).
The statistics go to the episodes metadata (written a row group of at least `META_ROWS_PER_GROUP`
episodes at a time) and into the dataset accumulators.
`finish()` closes the files and writes tasks, stats, and `meta/info.json` last, so a folder
without info.json was never finished.

The writer works in a local folder; `blueprint_pipeline.dataset.publish` moves a finished folder
into place atomically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.features import (
    IMAGE_PREFIX,
    build_features,
    check_compatible,
    data_schema,
    frame_arrays,
    video_keys,
)
from blueprint_pipeline.dataset.parquet_files import RollingParquetWriter, WriteBehind
from blueprint_pipeline.dataset.stats import (
    ImageStats,
    QuantileMean,
    RunningStats,
    pool_empty,
    split_stats,
    to_json,
)
from blueprint_pipeline.dataset.tasks_file import write_tasks
from blueprint_pipeline.dataset.video import (
    CameraVideoWriter,
    VideoSettings,
    probe_video_info,
)
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.sim.camera_model import feature_info
from blueprint_pipeline.sim.records import EpisodeRecord

# Episodes metadata rows per row group (at least; written when a data row group completes
# them): each row group costs a fixed time per column, and there are ~150 columns.
META_ROWS_PER_GROUP = 1000
# Episodes are buffered and written to the data file as one row group per this many bytes of
# arrow data: a row group per 300-frame episode spends more time on per-row-group, per-column
# work (dictionary attempts, page headers, statistics) than on the values.
DATA_ROW_GROUP_BYTES = 2 * 1024 * 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class WriterOptions:
    data_files_size_in_mb: float = layout.DEFAULT_DATA_FILES_SIZE_IN_MB
    video_files_size_in_mb: float = layout.DEFAULT_VIDEO_FILES_SIZE_IN_MB
    chunks_size: int = layout.CHUNKS_SIZE
    video: VideoSettings = field(default_factory=VideoSettings)
    seed: int = 0  # seeds the reservoir behind the dataset-level quantiles


@lru_cache(maxsize=256)
def _list_offsets(rows: int, size: int) -> pa.Buffer:
    return pa.py_buffer(np.arange(0, rows * size + 1, size, dtype=np.int32))


@lru_cache(maxsize=16)
def _list_of(item: pa.DataType) -> pa.DataType:
    return pa.list_(item)


def _nested_lists(values: np.ndarray, leaf: pa.DataType) -> pa.Array:
    """(rows, d1, d2, ...) numbers -> a list<list<...>> column, built from buffers (no Python
    objects, no validation pass: the offsets are a plain range)."""
    flat = np.ascontiguousarray(values, dtype=leaf.to_pandas_dtype()).reshape(-1)
    arr = pa.Array.from_buffers(leaf, len(flat), [None, pa.py_buffer(flat)])
    for size in reversed(values.shape[1:]):
        rows = len(arr) // size
        arr = pa.Array.from_buffers(_list_of(arr.type), rows, [None, _list_offsets(rows, size)], children=[arr])
    return arr


def _column(values: np.ndarray, ft: dict) -> pa.Array:
    if list(ft["shape"]) == [1]:
        return pa.array(values.reshape(-1))
    flat = pa.array(np.ascontiguousarray(values, dtype=np.dtype(ft["dtype"])).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, int(ft["shape"][0]))


def row_group_bytes(data_file_limit_bytes: float) -> float:
    """Buffered arrow bytes that make one data row group: small files still roll over by episode."""
    return min(DATA_ROW_GROUP_BYTES, data_file_limit_bytes / 8)


class DatasetWriter:
    """Writes one dataset into `root`, an empty local folder."""

    def __init__(self, root: Path, options: WriterOptions = WriterOptions()):
        self.root = Path(root)
        if self.root.exists() and any(self.root.iterdir()):
            raise ValueError(f"{self.root} is not empty")
        self.root.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.fps: int | None = None
        self.robot_type: str | None = None
        self.features: dict[str, dict] = {}
        self.tasks: dict[str, int] = {}
        self.total_frames = 0
        self.total_episodes = 0
        self._data: WriteBehind | None = None
        self._meta: RollingParquetWriter | None = None
        self._meta_rows: list[dict[str, Any]] = []  # episodes whose frames are written
        self._meta_stats: list[dict[str, np.ndarray]] = []  # their numeric stats, a block at a time
        self._videos: dict[str, CameraVideoWriter] = {}
        # episodes whose frames wait for the next row group: arrays, metadata rows, task indices
        self._pending_arrays: list[dict[str, np.ndarray]] = []
        self._pending_rows: list[dict[str, Any]] = []
        self._pending_tasks: list[int] = []
        self._pending_data_bytes = 0.0
        # all numeric features side by side, so one sort and one accumulator serve them all
        self._numeric_keys: list[str] = []
        self._numeric_widths: list[int] = []
        self._float_keys: list[str] = []
        self._sorted_keys: list[str] = []
        self._row_bytes = 0.0  # arrow bytes per frame: every column has a fixed width
        self._own_width = 0  # values per frame of the episodes' own (non-index) features
        self._numeric: RunningStats | None = None
        self._images: dict[str, ImageStats] = {}  # exact, for the sidecar
        self._image_quantiles: dict[str, QuantileMean] = {}  # LeRobot's, for stats.json
        self._image_results: dict[int, dict[str, dict[str, np.ndarray]]] = {}  # episode -> camera -> stats
        self._extras: pq.ParquetWriter | None = None
        self._camera_params: dict[str, dict] = {}
        self._rng = np.random.default_rng(options.seed)

    # -- setup on the first episode ------------------------------------------------------------
    def _start(self, rec: EpisodeRecord) -> None:
        self.fps, self.robot_type = int(rec.fps), rec.robot
        self.features = build_features(rec)
        opts = self.options
        cameras = video_keys(self.features)
        # with cameras the AV1 encoder takes nearly all the time and a data thread would save
        # none of it: row groups are then written inline
        self._data = WriteBehind(RollingParquetWriter(self.root, layout.data_path,
                                                      data_schema(self.features, hf_metadata=True),
                                                      opts.data_files_size_in_mb * MB, opts.chunks_size),
                                 background=not cameras)
        for key in cameras:
            self._videos[key] = CameraVideoWriter(self.root, key, self.fps, opts.video_files_size_in_mb * MB,
                                                  opts.video, opts.chunks_size)
            self._images[key] = ImageStats()
            self._image_quantiles[key] = QuantileMean()
        # the cameras' intrinsics (feature info) and per-episode extrinsics columns, when the
        # episodes carry them (sim/camera_model.py)
        self._camera_params = {key: rec.cameras[key[len(IMAGE_PREFIX):]] for key in cameras
                               if key[len(IMAGE_PREFIX):] in rec.cameras}
        numeric = [k for k, ft in self.features.items() if ft["dtype"] != "video"]
        # the episode's own columns (float32, bool) are sorted as float32; the index columns the
        # writer builds as ranges or constants are sorted already, and go last
        self._sorted_keys = [k for k in numeric if k in layout.INDEX_FEATURES]
        self._float_keys = [k for k in numeric if k not in layout.INDEX_FEATURES]
        if any(self.features[k]["dtype"] not in ("float32", "bool") for k in self._float_keys):
            raise ValueError("episode features must be float32 or bool")
        self._numeric_keys = self._float_keys + self._sorted_keys
        self._numeric_widths = [int(self.features[k]["shape"][0]) for k in self._numeric_keys]
        self._own_width = sum(int(self.features[k]["shape"][0]) for k in self._float_keys)
        self._numeric = RunningStats(sum(self._numeric_widths), self._rng, sorted_width=self._own_width,
                                     dtype=np.float32)

    def _meta_schema(self) -> pa.Schema:
        fields = [("episode_index", pa.int64()), ("tasks", pa.list_(pa.string())), ("length", pa.int64()),
                  ("data/chunk_index", pa.int64()), ("data/file_index", pa.int64()),
                  ("dataset_from_index", pa.int64()), ("dataset_to_index", pa.int64())]
        for key in self._videos:
            fields += [(f"videos/{key}/chunk_index", pa.int64()), (f"videos/{key}/file_index", pa.int64()),
                       (f"videos/{key}/from_timestamp", pa.float64()), (f"videos/{key}/to_timestamp", pa.float64())]
        for key, ft in self.features.items():
            value = pa.list_(pa.list_(pa.list_(pa.float64()))) if ft["dtype"] == "video" else pa.list_(pa.float64())
            fields += [(f"stats/{key}/{s}", pa.list_(pa.int64()) if s == "count" else value)
                       for s in layout.STAT_KEYS]
        fields += [("meta/episodes/chunk_index", pa.int64()), ("meta/episodes/file_index", pa.int64()),
                   # not read by LeRobot: where the episode came from and how it ended
                   ("source_episode_index", pa.int64()), ("task_id", pa.string()),
                   ("success", pa.bool_()), ("failure_reason", pa.string())]
        return pa.schema(fields + self._camera_fields())

    def _camera_fields(self) -> list[tuple[str, pa.DataType]]:
        """`cameras/<video key>/extrinsics`: each camera's pose in the episode (16 doubles)."""
        return [(layout.extrinsics_column(key), pa.list_(pa.float64(), 16)) for key in self._camera_params]

    # -- appending ---------------------------------------------------------------------------
    def add_episode(self, rec: EpisodeRecord) -> int:
        """Append one episode; returns its index in the dataset."""
        if rec.length < 1:
            raise InvalidInputError(f"episode {rec.episode_index} has no frames")
        if self._data is None:
            self._start(rec)
        try:
            columns = frame_arrays(rec, self.features)
            problems = check_compatible(rec, self.features, columns)
        except ValueError as exc:
            problems = [f"arrays do not reshape to {rec.length} frames: {exc}"]
        if rec.fps != self.fps:
            problems.append(f"fps {rec.fps}, the dataset has {self.fps}")
        for key, params in self._camera_params.items():
            got = rec.cameras.get(key[len(IMAGE_PREFIX):], {}).get("fovy_deg")
            if got is not None and abs(got - params["fovy_deg"]) > 1e-9:
                problems.append(f"{key}: field of view {got} deg, the dataset's is {params['fovy_deg']}")
        if problems:
            raise InvalidInputError(f"episode {rec.episode_index} does not fit the dataset",
                                    [Problem(f"episodes[{rec.episode_index}]", p) for p in problems])
        ep = self.total_episodes
        t = rec.length
        task_index = self.tasks.setdefault(rec.task_description, len(self.tasks))
        if not self._row_bytes:  # every column has a fixed width: bytes per frame, from the first
            first = self._block_columns([columns], [t], ep, self.total_frames, [task_index])
            self._row_bytes = self._arrow_table(first).nbytes / t
        row: dict[str, Any] = {
            "episode_index": ep, "tasks": [rec.task_description], "length": t,
            "data/chunk_index": None, "data/file_index": None,  # known once its row group is written
            "dataset_from_index": self.total_frames, "dataset_to_index": self.total_frames + t,
        }
        for key, vw in self._videos.items():
            frames = rec.images[key[len(IMAGE_PREFIX):]]
            span = vw.append_episode(frames, token=ep)
            row.update({f"videos/{key}/chunk_index": span.chunk_index, f"videos/{key}/file_index": span.file_index,
                        f"videos/{key}/from_timestamp": span.from_timestamp,
                        f"videos/{key}/to_timestamp": span.to_timestamp})
        self._collect_image_stats()
        for key in self._camera_params:
            row[layout.extrinsics_column(key)] = rec.cameras.get(key[len(IMAGE_PREFIX):], {}).get("extrinsics")
        row.update({"source_episode_index": int(rec.episode_index), "task_id": rec.task_id,
                    "success": bool(rec.success), "failure_reason": rec.failure_reason,
                    "_fingerprint": episode_fingerprint(columns)})
        self._pending_arrays.append(columns)
        self._pending_rows.append(row)
        self._pending_tasks.append(task_index)
        self._pending_data_bytes += t * self._row_bytes
        self.total_frames += t
        self.total_episodes += 1
        if (self._pending_data_bytes >= row_group_bytes(self.options.data_files_size_in_mb * MB)
                or len(self._pending_rows) >= META_ROWS_PER_GROUP):
            self._flush_data()
        return ep

    def _collect_image_stats(self) -> None:
        """Statistics of the episodes whose frames every camera has decoded since the last call."""
        for key, vw in self._videos.items():
            for ep, acc in vw.pop_finished():
                st = acc.result()
                self._images[key].merge(acc)
                self._image_quantiles[key].add({k: st[k][None] for k in layout.QUANTILES}, st["count"])
                self._image_results.setdefault(ep, {})[key] = st

    def _block_columns(self, arrays: list[dict[str, np.ndarray]], lengths: list[int], first_episode: int,
                       first_index: int, task_indices: list[int]) -> dict[str, np.ndarray]:
        """Every column of these consecutive episodes, one array each, index columns included."""
        n = int(sum(lengths))
        columns = {k: arrays[0][k] if len(arrays) == 1 else
                   np.concatenate([a[k] for a in arrays], out=pool_empty((n, *arrays[0][k].shape[1:]),
                                                                         arrays[0][k].dtype))
                   for k in arrays[0]}
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        frame_index = np.arange(n, dtype=np.int64) - starts
        columns.update({
            "timestamp": (frame_index / self.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.repeat(np.arange(first_episode, first_episode + len(lengths), dtype=np.int64),
                                       lengths),
            "index": np.arange(first_index, first_index + n, dtype=np.int64),
            "task_index": np.repeat(np.asarray(task_indices, dtype=np.int64), lengths),
        })
        return columns

    def _arrow_table(self, columns: dict[str, np.ndarray]) -> pa.Table:
        schema = self._data.schema
        return pa.table([_column(columns[f.name], self.features[f.name]) for f in schema], schema=schema)

    def _flush_data(self) -> None:
        """Write the buffered episodes' frames as one row group, and compute their statistics."""
        if not self._pending_rows:
            return
        try:
            self._flush_block()
        except BaseException:
            self._data.abandon()  # the data thread stops; the unfinished folder has no info.json
            raise

    def _flush_block(self) -> None:
        rows = self._pending_rows
        lengths = [r["length"] for r in rows]
        columns = self._block_columns(self._pending_arrays, lengths, rows[0]["episode_index"],
                                      rows[0]["dataset_from_index"], self._pending_tasks)
        # the row group is encoded on the data thread while this one computes its statistics
        # (which only read the columns): the episodes' own columns (float32, bool) sorted as
        # float32; the index columns, in order within each episode already
        location = self._data.write(self._arrow_table(columns))
        n = sum(lengths)
        stats, _ = self._numeric.add_episodes([columns[k].reshape(n, -1) for k in self._float_keys],
                                              [columns[k] for k in self._sorted_keys], lengths)
        for row in rows:
            row["_data_location"] = location
        self._meta_rows.extend(rows)
        self._meta_stats.append(stats)
        self._pending_arrays, self._pending_rows, self._pending_tasks = [], [], []
        self._pending_data_bytes = 0.0
        if len(self._meta_rows) >= META_ROWS_PER_GROUP:
            self._flush_meta()

    def _flush_meta(self) -> None:
        """Write the episodes whose frames are written as one row group of the episodes metadata.

        With cameras, only the leading episodes whose image statistics are known (every camera
        has decoded their frames) are written; the rest wait for the next row group."""
        if not self._meta_rows:
            return
        ready = len(self._meta_rows)
        if self._videos:
            ready = next((i for i, r in enumerate(self._meta_rows)
                          if len(self._image_results.get(r["episode_index"], ())) < len(self._videos)), ready)
            if ready == 0:
                return
        if ready < len(self._meta_rows):  # the statistics of the episodes that wait, as one block
            later = {k: np.concatenate([b[k] for b in self._meta_stats]) for k in self._meta_stats[0]}
            self._meta_stats = [{k: v[:ready] for k, v in later.items()}]
            waiting_rows, waiting_stats = self._meta_rows[ready:], {k: v[ready:] for k, v in later.items()}
            self._meta_rows = self._meta_rows[:ready]
        else:
            waiting_rows, waiting_stats = [], None
        for r in self._meta_rows:
            for key, st in self._image_results.pop(r["episode_index"], {}).items():
                r[f"_image_stats/{key}"] = st
        if self._meta is None:
            # stats columns are distinct floats: dictionary encoding would only cost time
            # nor are their parquet min/max statistics of use to anyone
            self._meta = RollingParquetWriter(self.root, layout.episodes_path, self._meta_schema(),
                                              self.options.data_files_size_in_mb * MB, self.options.chunks_size,
                                              use_dictionary=False, write_statistics=False)
        rows = self._meta_rows
        stats: dict[str, np.ndarray] = {}
        # numeric stats: one (episodes, all widths) array per statistic, sliced per feature
        edges = np.cumsum([0, *self._numeric_widths]).tolist()
        for stat in layout.STAT_KEYS:
            stacked = np.concatenate([block[stat] for block in self._meta_stats])
            for key, a, b in zip(self._numeric_keys, edges, edges[1:], strict=False):
                stats[f"stats/{key}/{stat}"] = stacked if stat == "count" else stacked[:, a:b]
        for key in self._videos:
            for stat in layout.STAT_KEYS:
                stats[f"stats/{key}/{stat}"] = np.stack([r[f"_image_stats/{key}"][stat] for r in rows])
        built: dict[int, pa.Array] = {}  # every numeric feature shares one `count` array
        for name, values in stats.items():
            if id(values) not in built:
                built[id(values)] = _nested_lists(values, pa.int64() if name.endswith("/count") else pa.float64())
        # the data files the episodes went to: known once the data thread has reached their row group
        chunk, file = self._meta.where_next(len(rows))
        for r in rows:
            r["meta/episodes/chunk_index"], r["meta/episodes/file_index"] = chunk, file
            r["data/chunk_index"], r["data/file_index"] = r.pop("_data_location").result()
        columns = [built[id(stats[f.name])] if f.name in stats else pa.array([r[f.name] for r in rows], type=f.type)
                   for f in self._meta.schema]
        self._meta.write(pa.table(columns, schema=self._meta.schema))
        self._write_extras(rows)
        self._meta_rows = waiting_rows
        self._meta_stats = [waiting_stats] if waiting_stats is not None else []

    def _write_extras(self, rows: list[dict[str, Any]]) -> None:
        """The sidecar `meta/blueprint_episodes.parquet`: this project's per-episode fields, keyed
        by episode_index and by a fingerprint of the episode's frames (see `lerobot_compat`)."""
        if self._extras is None:
            path = self.root / layout.EXTRAS_PATH
            path.parent.mkdir(parents=True, exist_ok=True)
            self._extras = pq.ParquetWriter(str(path), self._extras_schema())
        self._extras.write_table(pa.table({
            "episode_index": [r["episode_index"] for r in rows],
            "fingerprint": [r["_fingerprint"] for r in rows],
            "source_episode_index": [r["source_episode_index"] for r in rows],
            "task_id": [r["task_id"] for r in rows],
            "success": [r["success"] for r in rows],
            "failure_reason": [r["failure_reason"] for r in rows],
            **{name: [r[name] for r in rows] for name, _ in self._camera_fields()},
        }, schema=self._extras_schema()))

    def _extras_schema(self) -> pa.Schema:
        return pa.schema([*layout.EXTRAS_SCHEMA, *(pa.field(n, t) for n, t in self._camera_fields())])

    # -- finishing ---------------------------------------------------------------------------
    def dataset_stats(self) -> dict[str, dict[str, list]]:
        """`meta/stats.json`: exact moments and extremes; quantiles as LeRobot aggregates them."""
        parts = split_stats(self._numeric.lerobot_result(), self._numeric_widths)
        out = {key: to_json(st) for key, st in zip(self._numeric_keys, parts, strict=True)}
        for key, acc in self._images.items():
            st = acc.result()
            st.update({k: v.reshape(-1, 1, 1) for k, v in self._image_quantiles[key].result().items()})
            out[key] = to_json(st)
        return out

    def exact_stats(self) -> dict[str, dict[str, list]]:
        """The sidecar `meta/blueprint_stats_exact.json`: quantiles of the pooled frames (numeric:
        the reservoir, see `stats`; images: exact, from the merged histograms)."""
        parts = split_stats(self._numeric.result(), self._numeric_widths)
        out = {key: to_json(st) for key, st in zip(self._numeric_keys, parts, strict=True)}
        out.update({key: to_json(acc.result()) for key, acc in self._images.items()})
        return out

    def finish(self) -> dict[str, Any]:
        """Close every file and write the metadata, `meta/info.json` last. Returns info."""
        if self.total_episodes == 0:
            raise InvalidInputError("no episodes to write: a LeRobot dataset needs at least one")
        try:
            self._flush_data()
            # the last episodes' decoded frames come out of the encoders as they close
            for vw in self._videos.values():
                vw.close()
            self._collect_image_stats()
            _write_json(self.root / layout.STATS_PATH, self.dataset_stats(), indent=None)
            _write_json(self.root / layout.EXACT_STATS_PATH, self.exact_stats(), indent=None)
            write_tasks(self.root / layout.TASKS_PATH, self.tasks)
            for key in self._videos:
                self.features[key]["info"] = probe_video_info(self.root / layout.video_path(key, 0, 0),
                                                              self.options.video)
                if key in self._camera_params:
                    h, w = self.features[key]["shape"][:2]
                    p = self._camera_params[key]
                    self.features[key]["info"].update(feature_info(p["fovy_deg"], p["frame"], w, h))
            # the episodes metadata last: it needs to know which data file each episode went to
            self._flush_meta()
            self._meta.close()
            self._extras.close()
        except BaseException:
            self._data.abandon()
            raise
        self._data.close()
        info = {
            "codebase_version": layout.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": self.total_episodes,
            "total_frames": self.total_frames,
            "total_tasks": len(self.tasks),
            "chunks_size": self.options.chunks_size,
            "data_files_size_in_mb": self.options.data_files_size_in_mb,
            "video_files_size_in_mb": self.options.video_files_size_in_mb,
            "fps": self.fps,
            "splits": {"train": f"0:{self.total_episodes}"},
            "data_path": layout.DATA_PATH,
            "video_path": layout.VIDEO_PATH if self._videos else None,
            "features": self.features,
        }
        _write_json(self.root / layout.INFO_PATH, info)
        return info


def episode_fingerprint(columns: dict[str, np.ndarray]) -> str:
    """sha256 of an episode's own frame values (every non-index feature, in name order, as stored):
    LeRobot's tools renumber episodes and index columns but keep these values, so the fingerprint
    finds an episode again after merge, delete_episodes or split."""
    h = hashlib.sha256()
    for key in sorted(columns):
        h.update(key.encode())
        h.update(np.ascontiguousarray(columns[key]).tobytes())
    return h.hexdigest()


def _write_json(path: Path, obj: Any, indent: int | None = 4) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent, allow_nan=False) + "\n", encoding="utf-8")

