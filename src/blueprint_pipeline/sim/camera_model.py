"""The cameras as data: each rendered camera's intrinsics and its pose, so a user can project points.

Conventions (docs/cameras.md, "Cameras as data"):
- Intrinsics are a pinhole model without distortion, as MuJoCo renders: square pixels, the
  principal point at the image centre, `fx = fy = (height / 2) / tan(fovy / 2)`, `cx = (width - 1)
  / 2`, `cy = (height - 1) / 2` in pixel coordinates whose integer values are pixel centres, x to
  the right, y down (row 0 is the top of the image, as the dataset's frames are stored).
- Extrinsics are camera-to-frame 4x4 matrices (row-major, metres) in OpenCV camera axes: x right,
  y down, z forward (MuJoCo's camera looks along its -z with y up; the columns are converted).
  `scene_cam` is given in the world frame (fixed for the episode: its per-episode jitter is
  included); `wrist_cam` moves with the hand and is given in the TCP frame, the frame of
  `observation.ee_pose`, so its world pose at frame t is ee_pose[t] composed with it.

A world point p projects to pixel (u, v) = (fx X / Z + cx, fy Y / Z + cy), where (X, Y, Z) =
inverse(extrinsics) p (in the TCP frame first, for the wrist camera).
"""

from __future__ import annotations

import mujoco
import numpy as np

# which frame each camera's extrinsics are given in
CAMERA_FRAMES = {"scene_cam": "world", "wrist_cam": "tcp"}
_MJ_TO_CV = np.diag([1.0, -1.0, -1.0])  # MuJoCo camera axes (x right, y up, -z forward) -> OpenCV


def pinhole(fovy_deg: float, width: int, height: int) -> dict[str, float]:
    """The intrinsics of a MuJoCo camera rendered at width x height (module docstring)."""
    f = (height / 2.0) / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return {"fovy_deg": float(fovy_deg), "fx": float(f), "fy": float(f),
            "cx": (width - 1) / 2.0, "cy": (height - 1) / 2.0}


def feature_info(fovy_deg: float, frame: str, width: int, height: int) -> dict[str, object]:
    """The `camera.*` keys a video feature's `info` carries (meta/info.json)."""
    info: dict[str, object] = {"camera.model": "pinhole"}
    info.update({f"camera.{k}": v for k, v in pinhole(fovy_deg, width, height).items()})
    info["camera.extrinsics_frame"] = frame
    return info


def _cv_pose(pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rot @ _MJ_TO_CV
    out[:3, 3] = pos
    return out


def episode_cameras(model: mujoco.MjModel, data: mujoco.MjData, cam_ids: dict[str, int],
                    tcp_site: int) -> dict[str, dict]:
    """Per camera: `fovy_deg`, `frame` and `extrinsics` (camera-to-frame, 16 floats row-major) as `data`
    holds them now (call after the camera poses are computed: mj_camlight, place_scene_camera)."""
    tcp_pos, tcp_rot = data.site_xpos[tcp_site], data.site_xmat[tcp_site].reshape(3, 3)
    out = {}
    for cam, cid in cam_ids.items():
        pos, rot = data.cam_xpos[cid].copy(), data.cam_xmat[cid].reshape(3, 3).copy()
        frame = CAMERA_FRAMES.get(cam, "world")  # a camera of another model: on its world body
        if frame == "tcp":
            pos, rot = tcp_rot.T @ (pos - tcp_pos), tcp_rot.T @ rot
        out[cam] = {"fovy_deg": float(model.cam_fovy[cid]), "frame": frame,
                    "extrinsics": _cv_pose(pos, rot).reshape(16).tolist()}
    return out


def project(points_frame: np.ndarray, extrinsics: np.ndarray, intrinsics: dict[str, float]) -> np.ndarray:
    """Pixels (u, v) of points given in the camera's extrinsics frame; NaN behind the camera."""
    e = np.asarray(extrinsics, dtype=float).reshape(4, 4)
    p = (np.asarray(points_frame, dtype=float) - e[:3, 3]) @ e[:3, :3]  # inverse rigid transform
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([intrinsics["fx"] * p[:, 0] / p[:, 2] + intrinsics["cx"],
                       intrinsics["fy"] * p[:, 1] / p[:, 2] + intrinsics["cy"]], axis=1)
    uv[p[:, 2] <= 0] = np.nan
    return uv
