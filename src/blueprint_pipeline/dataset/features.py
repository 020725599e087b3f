"""The dataset's features (name -> dtype, shape, names) and how an `EpisodeRecord` maps onto them.

Feature keys follow LeRobot's conventions: `observation.*` for what the robot perceives,
`action` for what it was commanded, `next.*` for what followed the action, and
`observation.images.<camera>` (dtype "video") for rendered cameras.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from blueprint_pipeline.dataset.layout import INDEX_FEATURES
from blueprint_pipeline.sim.records import TASK_STATE_NAMES, EpisodeRecord

POSE_NAMES = ["x", "y", "z", "qw", "qx", "qy", "qz"]
IMAGE_PREFIX = "observation.images."

# record field -> feature key, for the per-frame vectors
_VECTOR_FIELDS = {
    "observation.state": "state",
    "observation.velocity": "velocity",
    "observation.ee_pose": "ee_pose",
    "observation.environment_state": "task_state",
    "observation.contacts": "contact",
    "action": "action",
}
_SCALAR_FIELDS = {"next.reward": ("reward", "float32"), "next.done": ("done", "bool"),
                  "next.success": ("success_flags", "bool")}


def _state_names(rec: EpisodeRecord, dim: int) -> list[str]:
    names = list(rec.joint_names)
    if len(names) == dim - 1:
        names.append("gripper_width_m")  # the records put the gripper opening after the joints
    if len(names) != dim:
        return [f"dim_{i}" for i in range(dim)]
    return names


def build_features(rec: EpisodeRecord) -> dict[str, dict]:
    """Features of a dataset whose episodes look like `rec` (same robot, objects, cameras)."""
    dim = int(rec.state.shape[1])
    joints = _state_names(rec, dim)
    names = {
        "observation.state": joints,
        "observation.velocity": [f"{n}.vel" for n in joints],
        "observation.ee_pose": list(POSE_NAMES),
        "observation.environment_state": list(TASK_STATE_NAMES),
        "observation.contacts": list(rec.contact_names),
        "action": [f"{n}.target" for n in joints],
    }
    features: dict[str, dict] = {}
    for key, field_name in _VECTOR_FIELDS.items():
        width = int(np.asarray(getattr(rec, field_name)).reshape(rec.length, -1).shape[1])
        if width == 0:
            continue  # no objects tracked / no contact sensors: LeRobot rejects shape (0,)
        key_names = names[key] if len(names[key]) == width else [f"dim_{i}" for i in range(width)]
        features[key] = {"dtype": "float32", "shape": [width], "names": key_names}
    for key, (_, dtype) in _SCALAR_FIELDS.items():
        features[key] = {"dtype": dtype, "shape": [1], "names": None}
    for cam in sorted(rec.images):
        h, w, c = (int(v) for v in rec.images[cam].shape[1:])
        features[IMAGE_PREFIX + cam] = {"dtype": "video", "shape": [h, w, c],
                                        "names": ["height", "width", "channels"]}
    features.update({k: dict(v) for k, v in INDEX_FEATURES.items()})
    return features


def video_keys(features: dict[str, dict]) -> list[str]:
    return [k for k, ft in features.items() if ft["dtype"] == "video"]


def frame_arrays(rec: EpisodeRecord, features: dict[str, dict]) -> dict[str, np.ndarray]:
    """The record's per-frame values for every non-video, non-index feature, as (T,) or (T, n)."""
    out: dict[str, np.ndarray] = {}
    for key, field_name in _VECTOR_FIELDS.items():
        if key in features:
            out[key] = np.asarray(getattr(rec, field_name), dtype=np.float32).reshape(rec.length, -1)
    for key, (field_name, dtype) in _SCALAR_FIELDS.items():
        out[key] = np.asarray(getattr(rec, field_name)).reshape(rec.length).astype(dtype)
    return out


def check_compatible(rec: EpisodeRecord, features: dict[str, dict],
                     arrays: dict[str, np.ndarray] | None = None) -> list[str]:
    """Why `rec` cannot join a dataset with these features (empty when it can).

    `arrays` are `frame_arrays(rec, features)` when the caller has them already.
    """
    problems = []
    if arrays is None:
        try:
            arrays = frame_arrays(rec, features)
        except ValueError as exc:
            return [f"arrays do not reshape to {rec.length} frames: {exc}"]
    for key, arr in arrays.items():
        want = features[key]["shape"]
        got = [1] if arr.ndim == 1 else [int(arr.shape[1])]
        if got != want:
            problems.append(f"{key}: shape {got} per frame, the dataset has {want}")
        if arr.shape[0] != rec.length:
            problems.append(f"{key}: {arr.shape[0]} frames, the episode has {rec.length}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            problems.append(f"{key}: holds NaN or infinite values")
    for key in video_keys(features):
        cam = key[len(IMAGE_PREFIX):]
        frames = rec.images.get(cam)
        if frames is None:
            problems.append(f"{key}: camera {cam!r} missing from this episode")
        elif list(frames.shape) != [rec.length, *features[key]["shape"]] or frames.dtype != np.uint8:
            problems.append(f"{key}: frames {frames.dtype}{list(frames.shape)}, "
                            f"want uint8[{rec.length}, {', '.join(map(str, features[key]['shape']))}]")
    extra = sorted(set(rec.images) - {k[len(IMAGE_PREFIX):] for k in video_keys(features)})
    if extra:
        problems.append(f"cameras {extra} not in the dataset's features")
    return problems


def arrow_type(ft: dict) -> pa.DataType:
    """Parquet column type LeRobot expects: scalars for shape (1,), fixed-size lists otherwise."""
    base = pa.bool_() if ft["dtype"] == "bool" else pa.from_numpy_dtype(np.dtype(ft["dtype"]))
    if list(ft["shape"]) == [1]:
        return base
    if len(ft["shape"]) != 1:
        raise ValueError(f"unsupported non-video feature shape {ft['shape']}")
    return pa.list_(base, int(ft["shape"][0]))


def hf_feature(ft: dict) -> dict:
    """The Hugging Face `datasets` feature (as `Features.to_dict()` gives it, datasets 4) for a
    non-video feature, as LeRobot maps it: a `Value` for shape [1], a `List` of fixed length otherwise."""
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if list(ft["shape"]) == [1]:
        return value
    return {"feature": value, "length": int(ft["shape"][0]), "_type": "List"}


def data_schema(features: dict[str, dict], hf_metadata: bool = False) -> pa.Schema:
    """Schema of the data parquet files; with `hf_metadata`, carrying the `huggingface` schema
    metadata that LeRobot's files carry (written through `datasets`), so that
    `datasets.Dataset.from_parquet` restores the features."""
    schema = pa.schema([pa.field(k, arrow_type(ft)) for k, ft in features.items() if ft["dtype"] != "video"])
    if not hf_metadata:
        return schema
    hf = {"info": {"features": {k: hf_feature(ft) for k, ft in features.items() if ft["dtype"] != "video"}}}
    return schema.with_metadata({"huggingface": json.dumps(hf)})
