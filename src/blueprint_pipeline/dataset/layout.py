"""Where things live in a LeRobot v3.0 dataset, and the format's fixed values.

    meta/info.json  meta/stats.json  meta/tasks.parquet
    meta/episodes/chunk-000/file-000.parquet
    data/chunk-000/file-000.parquet            (many episodes per file)
    videos/<video_key>/chunk-000/file-000.mp4  (many episodes per file)

Path templates are the ones LeRobot's loader formats; keep them in this one place.
"""

from __future__ import annotations

import pyarrow as pa

from blueprint_pipeline.contract import DATASET_INFO

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder
DEFAULT_DATA_FILES_SIZE_IN_MB = 100
DEFAULT_VIDEO_FILES_SIZE_IN_MB = 200

INFO_PATH = DATASET_INFO.name  # "meta/info.json", written last
STATS_PATH = "meta/stats.json"
# this project's sidecars (LeRobot ignores them; its tools do not copy them)
EXACT_STATS_PATH = "meta/blueprint_stats_exact.json"
EXTRAS_PATH = "meta/blueprint_episodes.parquet"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"

# Columns every frame carries (LeRobot's default features), all scalars.
INDEX_FEATURES: dict[str, dict] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}

STAT_KEYS = ("min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99")
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}

# Timestamps within an episode must be frame_index / fps to this tolerance (LeRobot's default).
TIMESTAMP_TOLERANCE_S = 1e-4


def next_chunk_file(chunk_index: int, file_index: int, chunks_size: int = CHUNKS_SIZE) -> tuple[int, int]:
    """The (chunk, file) pair after this one: files fill a chunk folder, then the next chunk."""
    if file_index + 1 >= chunks_size:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


def data_path(chunk_index: int, file_index: int) -> str:
    return DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)


def video_path(video_key: str, chunk_index: int, file_index: int) -> str:
    return VIDEO_PATH.format(video_key=video_key, chunk_index=chunk_index, file_index=file_index)


def episodes_path(chunk_index: int, file_index: int) -> str:
    return EPISODES_PATH.format(chunk_index=chunk_index, file_index=file_index)


def extrinsics_column(video_key: str) -> str:
    """The episodes metadata's (and the sidecar's) column of a camera's pose in each episode."""
    return f"cameras/{video_key}/extrinsics"


# The sidecar of per-episode fields LeRobot's delete_episodes and split do not keep; the writer
# adds one `extrinsics_column` per rendered camera.
EXTRAS_SCHEMA = pa.schema([("episode_index", pa.int64()), ("fingerprint", pa.string()),
                           ("source_episode_index", pa.int64()), ("task_id", pa.string()),
                           ("success", pa.bool_()), ("failure_reason", pa.string())])
