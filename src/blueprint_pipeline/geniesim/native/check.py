"""`blueprint geniesim check DIR`: verify a native bundle with the rules Genie Sim's loaders apply.

Every problem found is reported (each names its file); the bundle passes only with none.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from pxr import Usd, UsdGeom

from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.geniesim.native import layout

CENTRE_TOL_M = 1e-3
SIZE_TOL_M = 2e-3
MIN_SIZE_M, MAX_SIZE_M = 1e-3, 50.0
QUAT_TOL = 1e-3
ORTHO_TOL = 1e-6
MAX_PROBLEMS = 200
_ACTIONS = {"pick", "place", "insert", "rotate", "reset", "pull", "push", "move"}
_TASK_KEYS = ("task", "origin", "objects", "scene", "robot", "stages", "recording_setting",
              "task_description", "task_metric")


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []

    def add(self, path: Path | str, message: str) -> None:
        rel = str(Path(path).relative_to(self.root)) if isinstance(path, Path) and path.is_relative_to(self.root) else str(path)
        self.problems.append(Problem(rel, message))

    def load_json(self, path: Path) -> Any:
        if not path.is_file():
            self.add(path, "missing")
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            self.add(path, f"not valid JSON ({exc})")
            return None


def _is_vec(v: Any, n: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(isinstance(x, (int, float)) and np.isfinite(x) for x in v)


def _check_quat(c: _Collector, where: Path, label: str, q: Any) -> None:
    if not _is_vec(q, 4):
        c.add(where, f"{label}: quaternion must be 4 numbers w-x-y-z")
    elif abs(float(np.linalg.norm(q)) - 1.0) > QUAT_TOL:
        c.add(where, f"{label}: quaternion not unit (norm {np.linalg.norm(q):.4f})")


def _check_mesh(c: _Collector, usd: Path, size: Any) -> None:
    if not usd.is_file():
        c.add(usd, f"missing (Genie Sim loads exactly {layout.ALIGNED_USD})")
        return
    stage = Usd.Stage.Open(str(usd))
    if stage is None:
        c.add(usd, "cannot be opened as USD")
        return
    if abs(UsdGeom.GetStageMetersPerUnit(stage) - 1.0) > 1e-9:
        c.add(usd, f"metersPerUnit is {UsdGeom.GetStageMetersPerUnit(stage)}, must be 1 (metres)")
    pts_all = []
    for prim in stage.Traverse():
        xf = UsdGeom.Xformable(prim)
        if xf and xf.GetOrderedXformOps():
            local = np.array(xf.GetLocalTransformation(), dtype=float)
            if not np.allclose(local, np.eye(4), atol=1e-9):
                c.add(usd, f"{prim.GetPath()}: has a transform; the loader ignores it (bake it into the points)")
        if prim.IsA(UsdGeom.Mesh):
            m = UsdGeom.Mesh(prim)
            pts, counts = m.GetPointsAttr().Get(), m.GetFaceVertexCountsAttr().Get()
            if pts and counts and m.GetFaceVertexIndicesAttr().Get():
                pts_all.append(np.array(pts, dtype=float))
    if not pts_all:
        c.add(usd, "no UsdGeom.Mesh with points and faces")
        return
    pts = np.concatenate(pts_all)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    if np.abs(centre).max() > CENTRE_TOL_M:
        c.add(usd, f"bounding-box centre {np.round(centre, 4).tolist()} is not the origin")
    if _is_vec(size, 3) and np.abs((hi - lo) - np.asarray(size, dtype=float)).max() > max(SIZE_TOL_M, 0.01 * max(size)):
        c.add(usd, f"mesh size {np.round(hi - lo, 4).tolist()} m differs from object_parameters size {size}")


def _check_object(c: _Collector, folder: Path) -> dict[str, Any] | None:
    params_path = folder / layout.OBJECT_PARAMETERS
    params = c.load_json(params_path)
    size = None
    if isinstance(params, dict):
        for key in ("upAxis", "size"):
            if key not in params:
                c.add(params_path, f"missing required key {key!r}")
        if "upAxis" in params and not (isinstance(params["upAxis"], list) and params["upAxis"]):
            c.add(params_path, "upAxis must be a non-empty list such as [\"z\"]")
        size = params.get("size")
        if "size" in params:
            if not _is_vec(size, 3):
                c.add(params_path, "size must be 3 numbers (metres)")
                size = None
            elif not all(MIN_SIZE_M <= s <= MAX_SIZE_M for s in size):
                c.add(params_path, f"size {size} is not plausible in metres ({MIN_SIZE_M}-{MAX_SIZE_M} m)")
        if params.get("scale", 1.0) != 1.0:
            c.add(params_path, f"scale is {params.get('scale')}; must be 1.0 (meshes are in metres)")
        mass = params.get("mass")
        if mass is not None and not (isinstance(mass, (int, float)) and mass > 0):
            c.add(params_path, "mass must be a positive number (kg)")
    elif params is not None:
        c.add(params_path, "must be a JSON object")
    _check_mesh(c, folder / layout.ALIGNED_USD, size)
    return params if isinstance(params, dict) else None


def _check_grasps(c: _Collector, path: Path, stroke_m: float) -> int:
    if not path.is_file():
        c.add(path, "missing (named by interaction.json)")
        return 0
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)  # the bundle under check is trusted local output, as Genie Sim reads it
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a problem to report
        c.add(path, f"cannot be read as a pickle ({type(exc).__name__})")
        return 0
    if not isinstance(data, dict) or "grasp_pose" not in data or "width" not in data:
        c.add(path, "must be a dict with keys 'grasp_pose' and 'width'")
        return 0
    poses, widths = np.asarray(data["grasp_pose"]), np.asarray(data["width"])
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or poses.shape[0] == 0 or not np.issubdtype(poses.dtype, np.floating):
        c.add(path, f"grasp_pose must be a non-empty float array (N, 4, 4), got shape {poses.shape}")
        return 0
    if widths.shape != (poses.shape[0],):
        c.add(path, f"width must have shape ({poses.shape[0]},), got {widths.shape}")
    rot = poses[:, :3, :3]
    err = np.abs(np.einsum("nji,njk->nik", rot, rot) - np.eye(3)).max(axis=(1, 2))
    bad = np.flatnonzero((err > ORTHO_TOL) | (np.linalg.det(rot) < 0))
    if bad.size:
        c.add(path, f"{bad.size} grasp rotations are not orthonormal right-handed (first: #{bad[0]})")
    if not np.allclose(poses[:, 3, :], [0, 0, 0, 1]):
        c.add(path, "grasp poses' last row must be [0, 0, 0, 1]")
    if widths.shape == (poses.shape[0],):
        out = np.flatnonzero(~((widths > 0) & (widths <= stroke_m + 1e-9)))
        if out.size:
            c.add(path, f"{out.size} grasp widths outside (0, {stroke_m}] m (first: {float(widths[out[0]]):.4f})")
    return int(poses.shape[0])


def _check_interaction(c: _Collector, folder: Path, stroke_m: float) -> dict[str, Any] | None:
    path = folder / layout.INTERACTION
    data = c.load_json(path)
    if data is None:
        return None
    inter = data.get("interaction") if isinstance(data, dict) else None
    if not isinstance(inter, dict):
        c.add(path, "must hold an object under key 'interaction'")
        return None
    for side in ("active", "passive"):
        for action, prims in (inter.get(side) or {}).items():
            if action == "grasp":
                continue
            for prim, labels in (prims or {}).items():
                for k, lab in enumerate(labels if isinstance(labels, list) else [labels]):
                    if not (isinstance(lab, dict) and _is_vec(lab.get("xyz"), 3) and _is_vec(lab.get("direction"), 3)):
                        c.add(path, f"{side}.{action}.{prim}[{k}]: needs xyz and direction, 3 numbers each")
                    elif np.linalg.norm(lab["direction"]) == 0:
                        c.add(path, f"{side}.{action}.{prim}[{k}]: direction is zero")
    grasp = (inter.get("passive") or {}).get("grasp")
    if grasp is not None:
        for prim, files in grasp.items():
            for f in files if isinstance(files, list) else [files]:
                _check_grasps(c, folder / f, stroke_m)
    return inter


def _check_task(c: _Collector, path: Path, objects: dict[str, Path], interactions: dict[str, Any]) -> None:
    task = c.load_json(path)
    if not isinstance(task, dict):
        return
    for key in _TASK_KEYS:
        if key not in task:
            c.add(path, f"missing top-level key {key!r}")
    origin = task.get("origin") or {}
    if "origin" in task:
        _check_quat(c, path, "origin", origin.get("quaternion"))
    scene = task.get("scene") or {}
    for key in ("scene_id", "scene_usd"):
        if key not in scene:
            c.add(path, f"scene.{key} missing")
    usds = scene.get("scene_usd")
    for u in usds if isinstance(usds, list) else [usds] if usds else []:
        if not (c.root / u).is_file():
            c.add(path, f"scene.scene_usd {u!r} does not resolve to a file")
    spaces = scene.get("function_space_objects") or {}
    for name, ws in spaces.items():
        if "poses" in ws:
            if not ws["poses"]:
                c.add(path, f"workspace {name!r}: poses is empty")
            for k, p in enumerate(ws["poses"]):
                _check_quat(c, path, f"workspace {name!r} pose {k}", p.get("quaternion"))
        else:
            _check_quat(c, path, f"workspace {name!r}", ws.get("quaternion"))
            if not _is_vec(ws.get("size"), 3):
                c.add(path, f"workspace {name!r}: size must be 3 numbers (metres)")
    robot = task.get("robot") or {}
    init = robot.get("robot_init_pose")
    if not isinstance(init, dict) or not _is_vec(init.get("position"), 3):
        c.add(path, "robot.robot_init_pose needs position (3 numbers) and quaternion")
    else:
        _check_quat(c, path, "robot.robot_init_pose", init.get("quaternion"))
    objs = task.get("objects") or {}
    related = objs.get("task_related_objects")
    if not isinstance(related, list) or not related:
        c.add(path, "objects.task_related_objects must be a non-empty list")
        related = []
    ids: dict[str, str] = {}
    for group in ("task_related_objects", "fix_objects", "scene_objects"):
        for k, o in enumerate(objs.get(group) or []):
            where = f"objects.{group}[{k}]"
            entries = o.get("candidate_objects") or [o]
            oid = o.get("object_id")
            if not oid:
                c.add(path, f"{where}: object_id missing")
                continue
            for e in entries:
                d = (e.get("data_info_dir") or "").rstrip("/")
                if not d or d not in objects:
                    c.add(path, f"{where} ({oid}): data_info_dir {d!r} does not resolve to an object folder")
                elif Path(d).name not in interactions:
                    c.add(path, f"{where} ({oid}): no interaction/{Path(d).name}/interaction.json")
                else:
                    ids[oid] = Path(d).name
            if group == "task_related_objects" and o.get("workspace_id") not in spaces:
                c.add(path, f"{where} ({oid}): workspace_id {o.get('workspace_id')!r} not in scene.function_space_objects")
            if group == "fix_objects":
                _check_quat(c, path, f"{where} ({oid})", o.get("quaternion"))
    stages = task.get("stages")
    if not isinstance(stages, list) or not stages:
        c.add(path, "stages must be a non-empty list")
        return
    for k, st in enumerate(stages):
        where = f"stages[{k}]"
        action = st.get("action")
        if action not in _ACTIONS:
            c.add(path, f"{where}: unknown action {action!r}")
        if action == "reset":
            continue
        for side in ("active", "passive"):
            oid = (st.get(side) or {}).get("object_id")
            if oid != "gripper" and oid not in ids:
                c.add(path, f"{where}.{side}.object_id {oid!r} is not an object of this task")
        passive_id = (st.get("passive") or {}).get("object_id")
        inter = interactions.get(ids.get(passive_id, ""), {}) or {}
        if action == "pick" and passive_id in ids and not (inter.get("passive") or {}).get("grasp"):
            c.add(path, f"{where}: pick target {passive_id!r} has no passive grasp data")
        if action in ("place", "insert"):
            prim = (st.get("passive") or {}).get("primitive")
            if prim and passive_id in ids and prim not in ((inter.get("passive") or {}).get("place") or {}):
                c.add(path, f"{where}: place label {prim!r} not in {passive_id!r}'s interaction.json")
            active_id = (st.get("active") or {}).get("object_id")
            a_inter = interactions.get(ids.get(active_id, ""), {}) or {}
            a_prim = (st.get("active") or {}).get("primitive")
            if a_prim and active_id in ids and a_prim not in ((a_inter.get("active") or {}).get("place") or {}):
                c.add(path, f"{where}: active place label {a_prim!r} not in {active_id!r}'s interaction.json")
        for ch in st.get("checker") or []:
            params = ch.get("params") or {}
            for key in ("object_id", "target_id"):
                if key in params and params[key] != "gripper" and params[key] not in ids:
                    c.add(path, f"{where}: checker {ch.get('checker_name')!r} names unknown object {params[key]!r}")


def check_bundle(root: str | Path, stroke_m: float = 0.08) -> dict[str, int]:
    """Counts of what was checked; raises InvalidInputError listing every problem."""
    root = Path(root).resolve()
    c = _Collector(root)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a folder")
    objects: dict[str, Path] = {}
    basenames: dict[str, str] = {}
    for usd_or_params in sorted((root / "objects").glob("*/*/")) if (root / "objects").is_dir() else []:
        rel = str(usd_or_params.relative_to(root))
        if usd_or_params.name in basenames:
            c.add(usd_or_params, f"folder name also used by {basenames[usd_or_params.name]} (Genie Sim finds "
                                 "interaction data by folder name)")
        basenames[usd_or_params.name] = rel
        objects[rel] = usd_or_params
        _check_object(c, usd_or_params)
    if not objects:
        c.add("objects", "no object folders (objects/<category>/<asset_id>/)")
    interactions: dict[str, Any] = {}
    for folder in sorted((root / "interaction").glob("*/")) if (root / "interaction").is_dir() else []:
        if folder.name not in basenames:
            c.add(folder, "interaction data for an asset with no object folder")
        interactions[folder.name] = _check_interaction(c, folder, stroke_m)
    tasks = sorted((root / "tasks").glob("*.json")) if (root / "tasks").is_dir() else []
    for t in tasks:
        _check_task(c, t, objects, interactions)
    if c.problems:
        shown = c.problems[:MAX_PROBLEMS]
        raise InvalidInputError(f"{root.name}: native bundle check failed with {len(c.problems)} problem(s)",
                                shown, omitted=len(c.problems) - len(shown))
    return {"objects": len(objects), "interactions": len(interactions), "tasks": len(tasks)}
