"""Episode files: `episodes/data/episode_XXXXXX.npz`, one per simulated episode.

Each file holds the arrays of an `EpisodeRecord` plus its scalar fields as JSON (`meta`).
Written atomically by the worker that simulated the episode, so the episodes journal can
record an episode as done only once its file is complete; the dataset writer streams them
back one at a time in episode order.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.sim.records import EpisodeRecord

EPISODE_FILE_SCHEMA = "blueprint.episode/2"  # 2: task_state
_ARRAYS = ("state", "velocity", "ee_pose", "object_poses", "action", "contact", "reward", "done",
           "success_flags", "task_state")
_SCALARS = ("episode_index", "task_id", "task_description", "robot", "seed", "fps", "success",
            "failure_reason", "joint_names", "object_ids", "contact_names", "metrics")


def episode_filename(episode_index: int) -> str:
    return f"episode_{episode_index:06d}.npz"


def save_episode(url: str, rec: EpisodeRecord) -> None:
    meta = {k: getattr(rec, k) for k in _SCALARS}
    meta["schema"] = EPISODE_FILE_SCHEMA
    meta["cameras"] = sorted(rec.images)
    meta["camera_params"] = rec.cameras
    arrays = {k: np.asarray(getattr(rec, k)) for k in _ARRAYS}
    for cam, frames in rec.images.items():
        arrays[f"image__{cam}"] = np.asarray(frames, dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays)
    storage.atomic_write_bytes(url, buf.getvalue())


def load_episode(url: str) -> EpisodeRecord:
    with storage.open_read(url, "rb") as f, np.load(io.BytesIO(f.read())) as z:
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        if meta.get("schema") != EPISODE_FILE_SCHEMA:
            raise ValueError(f"{url}: unsupported episode file schema {meta.get('schema')!r}")
        images = {cam: z[f"image__{cam}"] for cam in meta["cameras"]}
        arrays = {k: z[k] for k in _ARRAYS}
    fields = {k: meta[k] for k in _SCALARS}
    return EpisodeRecord(**fields, **arrays, images=images, cameras=meta.get("camera_params", {}))


def iter_episode_files(folder_url: str) -> Iterator[str]:
    """URLs of the episode files in a folder, in episode order."""
    for name in storage.listdir(folder_url):
        if name.startswith("episode_") and name.endswith(".npz"):
            yield storage.join(folder_url, name)
