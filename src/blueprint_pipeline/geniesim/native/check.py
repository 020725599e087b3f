"""`blueprint geniesim check DIR [--assets ASSETS]`: verify a native bundle with the rules Genie Sim's
loaders and planner apply (planner rules in `rules.py`, read from genie_sim commit 0e659ad).

Loading: files, keys, references, meshes centred with no transforms, sizes, quaternions, grasp
rotations. Planning, per task:
- pick: Genie Sim's grasp filters (upside-down filter per arm, flip_grasp) on the grasps at the
  object's workspace pose; a grasp counts for an arm only if it also fits the gripper (what the
  jaws close on, from the mesh's triangles along lines parallel to the jaw axis across the pads,
  `jaw_openings`, within the width and the stroke: the whole object across a box or a bottle, the
  wall at a mug's or bowl's rim) and, moved by
  the stage's grasp_offset (which must be explicit), its fingertip centre is at least
  MIN_GRASP_DEPTH_M inside the object and not past the object's centre along the approach by
  more than PAST_CENTRE_TOL_M. An "auto" pick needs a grasp for each arm.
- place: the object's bottom, where Genie Sim's alignment puts it (origin or labels, as
  place_with_origin_orientation says), must be within PLACE_TOL_M of the goal surface (the passive
  label, which must lie on the passive object's top).
- scene: every mesh of the background has UsdPhysics collision, as does every Aligned.usd; lights
  in the background or the task's `lights`; the robot base over a floor of the background, its
  whole base disc on it.
- fields of the shipped tasks: task_description.task_name and init_scene_text, robot.arm "dual"
  for a dual-arm robot_cfg, init_arm_pose with both arms' joints.
With --assets: the folder SIM_ASSETS will be: what Genie Sim's server and startup load from it
(the G2 robot USD and cuRobo's robot assets) and every file the tasks name, identical to the bundle's.
Every problem found is reported (each names its file); the bundle passes only with none.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from pxr import Sdf, Usd, UsdGeom, UsdLux, UsdPhysics

from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.geniesim.native import layout, rules
from blueprint_pipeline.geniesim.robots import ROBOTS
from blueprint_pipeline.simready.rims import ray_hits

CENTRE_TOL_M = 1e-3
SIZE_TOL_M = 2e-3
MIN_SIZE_M, MAX_SIZE_M = 1e-3, 50.0
QUAT_TOL = 1e-3
ORTHO_TOL = 1e-6
MAX_PROBLEMS = 200
MIN_GRASP_DEPTH_M = 0.005
PAST_CENTRE_TOL_M = 0.01
PLACE_TOL_M = 0.005
LABEL_ON_TOP_TOL_M = 0.002
FLOOR_TOL_M = 0.02
OPENING_TOL_M = 1e-3
SPACE_LIFT_M = 0.02  # Genie Sim's layout puts an object's origin at workspace bottom + half height + 2 cm
# What Genie Sim loads from SIM_ASSETS besides the task's files (server: robot_cfg's robot_usd;
# container startup: cuRobo's robot assets), by robot_cfg.
ROBOT_ASSETS = {
    "G2_omnipicker_fixed_dual.json": ("robot/G2_omnipicker/robot_fix.usda", "robot/curobo_robot/assets/robot/"),
}
ARM_JOINTS = {"left": "_arm_l_joint", "right": "_arm_r_joint"}
_ACTIONS = {"pick", "place", "insert", "rotate", "reset", "pull", "push", "move"}
_TASK_KEYS = ("task", "origin", "objects", "scene", "robot", "stages", "recording_setting",
              "task_description", "task_metric")


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []
        self.points: dict[str, np.ndarray] = {}  # object folder basename -> mesh points (object frame)
        self.triangles: dict[str, np.ndarray] = {}  # object folder basename -> mesh triangles (n, 3, 3)
        self.grasps: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # interaction basename -> poses, widths
        self.scenes: dict[str, dict[str, Any] | None] = {}  # scene_usd -> what the background holds
        self.grasp_counts: dict[str, dict[str, int]] = {}  # task file -> usable grasps per arm

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


def _check_mesh(c: _Collector, usd: Path, size: Any) -> np.ndarray | None:
    if not usd.is_file():
        c.add(usd, f"missing (Genie Sim loads exactly {layout.ALIGNED_USD})")
        return None
    stage = Usd.Stage.Open(str(usd))
    if stage is None:
        c.add(usd, "cannot be opened as USD")
        return None
    if abs(UsdGeom.GetStageMetersPerUnit(stage) - 1.0) > 1e-9:
        c.add(usd, f"metersPerUnit is {UsdGeom.GetStageMetersPerUnit(stage)}, must be 1 (metres)")
    pts_all, tris_all = [], []
    for prim in stage.Traverse():
        xf = UsdGeom.Xformable(prim)
        if xf and xf.GetOrderedXformOps():
            local = np.array(xf.GetLocalTransformation(), dtype=float)
            if not np.allclose(local, np.eye(4), atol=1e-9):
                c.add(usd, f"{prim.GetPath()}: has a transform; the loader ignores it (bake it into the points)")
        if prim.IsA(UsdGeom.Mesh):
            m = UsdGeom.Mesh(prim)
            pts, counts = m.GetPointsAttr().Get(), m.GetFaceVertexCountsAttr().Get()
            indices = m.GetFaceVertexIndicesAttr().Get()
            if pts and counts and indices:
                pts_all.append(np.array(pts, dtype=float))
                tris_all.append(fan_triangles(pts_all[-1], np.asarray(counts), np.asarray(indices)))
                if not prim.HasAPI(UsdPhysics.CollisionAPI):
                    c.add(usd, f"{prim.GetPath()}: no UsdPhysics collision (Genie Sim adds colliders only to "
                               "objects it adds itself; the background gets them from this file)")
    if not pts_all:
        c.add(usd, "no UsdGeom.Mesh with points and faces")
        return None
    pts = np.concatenate(pts_all)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    if np.abs(centre).max() > CENTRE_TOL_M:
        c.add(usd, f"bounding-box centre {np.round(centre, 4).tolist()} is not the origin")
    if _is_vec(size, 3) and np.abs((hi - lo) - np.asarray(size, dtype=float)).max() > max(SIZE_TOL_M, 0.01 * max(size)):
        c.add(usd, f"mesh size {np.round(hi - lo, 4).tolist()} m differs from object_parameters size {size}")
    c.triangles[usd.parent.name] = np.concatenate(tris_all)
    return pts


def fan_triangles(points: np.ndarray, counts: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """A USD mesh's faces as triangles (n, 3, 3), each polygon fanned from its first vertex."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    tris = np.asarray([(indices[s0], indices[s0 + j], indices[s0 + j + 1]) for s0, n in zip(starts, counts)
                       for j in range(1, n - 1) if s0 + n <= len(indices)], dtype=int).reshape(-1, 3)
    return points[tris[((tris >= 0) & (tris < len(points))).all(axis=1)]]  # faces naming no point are left out


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
    pts = _check_mesh(c, folder / layout.ALIGNED_USD, size)
    if pts is not None:
        c.points[folder.name] = pts
    return params if isinstance(params, dict) else None


def _check_grasps(c: _Collector, path: Path, stroke_m: float, triangles: np.ndarray | None) -> int:
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
        if triangles is not None:
            opening = jaw_openings(poses, triangles)
            wide = np.flatnonzero(opening > np.minimum(widths, stroke_m) + OPENING_TOL_M)
            if wide.size:
                k = int(wide[np.argmax(opening[wide])])
                c.add(path, f"{wide.size} of {len(poses)} grasps close across more than their width or the "
                            f"{stroke_m} m stroke (worst #{k}: the jaws close on {opening[k]:.3f} m of the object, "
                            f"width {float(widths[k]):.3f} m)")
        c.grasps[path.parent.parent.name] = (poses, widths)
    return int(poses.shape[0])


# lines parallel to the jaw axis on which `jaw_openings` measures what the jaws close on: through
# the grasp centre and across the pads (along the approach, then along the pads' width)
PAD_LINES_M = ((0.0, 0.0), (-0.015, 0.0), (0.015, 0.0), (0.0, -0.008), (0.0, 0.008))


def jaw_openings(poses: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """For each grasp, the opening its jaws need for what they close on, from the mesh's triangles
    (a closed mesh). On each line of PAD_LINES_M and each side of the centre: from a point inside
    the object, its first face; from a gap (a mug's cavity), the far face of the first material
    met; twice the most over the lines (a line that meets nothing is not between the pads). Across
    a box or a bottle this is its extent along the jaw axis; at a bowl's rim, its wall."""
    out = np.zeros(len(poses))
    for k, pose in enumerate(poses):
        approach, jaw, across, centre = pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3]
        need = 0.0
        for along, side in PAD_LINES_M:
            origin = centre + along * approach + side * across
            for direction in (jaw, -jaw):
                hits = ray_hits(origin, direction, triangles)
                if len(hits):
                    need = max(need, float(hits[0] if len(hits) % 2 else hits[1]))
        out[k] = 2.0 * need
    return out


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
                _check_grasps(c, folder / f, stroke_m, c.triangles.get(folder.name))
    return inter


def _object_pose(task: dict[str, Any], oid: str, points: np.ndarray | None) -> np.ndarray | None:
    """The pose Genie Sim lays a task object out at: its SAMPLE workspace pose, the SPACE workspace's
    bottom + half height + 2 cm, or a fix/scene object's own pose."""
    objs = task.get("objects") or {}
    spaces = (task.get("scene") or {}).get("function_space_objects") or {}
    for group in ("task_related_objects", "fix_objects", "scene_objects"):
        for o in objs.get(group) or []:
            if not isinstance(o, dict) or o.get("object_id") != oid:
                continue
            if _is_vec(o.get("position"), 3) and _is_vec(o.get("quaternion"), 4):
                return rules.pose_matrix(o["position"], o["quaternion"])
            ws = spaces.get(o.get("workspace_id"))
            if not isinstance(ws, dict):
                return None
            if ws.get("poses"):
                p = ws["poses"][0]
                if _is_vec(p.get("position"), 3) and _is_vec(p.get("quaternion"), 4):
                    return rules.pose_matrix(p["position"], p["quaternion"])
                return None
            if _is_vec(ws.get("position"), 3) and _is_vec(ws.get("quaternion"), 4) and _is_vec(ws.get("size"), 3):
                half_h = 0.0 if points is None else float(points[:, 2].max() - points[:, 2].min()) / 2
                pos = list(ws["position"])
                pos[2] = pos[2] - ws["size"][2] / 2 + half_h + SPACE_LIFT_M
                return rules.pose_matrix(pos, ws["quaternion"])
    return None


def _check_pick(c: _Collector, path: Path, where: str, task: dict[str, Any], st: dict[str, Any],
                oid: str, basename: str) -> None:
    params = st.get("extra_params") or {}
    offset = params.get("grasp_offset")
    if "grasp_offset" not in params:
        c.add(path, f"{where}: extra_params.grasp_offset missing (Genie Sim then moves the gripper "
                    f"{rules.DEFAULT_GRASP_OFFSET_M} m further along the approach than the grasp pose)")
        offset = rules.DEFAULT_GRASP_OFFSET_M
    elif not isinstance(offset, (int, float)) or not np.isfinite(offset):
        c.add(path, f"{where}: extra_params.grasp_offset must be a number (metres)")
        return
    if basename not in c.grasps or basename not in c.points:
        return  # reported where the files are checked
    poses, widths = c.grasps[basename]
    points = c.points[basename]
    pose = _object_pose(task, oid, points)
    if pose is None:
        c.add(path, f"{where}: no pose for {oid!r} (workspace or fix pose) to apply Genie Sim's grasp filters at")
        return
    cfg = str((task.get("robot") or {}).get("robot_cfg") or "")
    per_arm = rules.arm_grasps(poses, pose, params, cfg)
    # geometry, the same for both arms: fits the gripper, and the offset fingertip centre is inside
    # the object and not past its centre along the approach
    fits = jaw_openings(poses, c.triangles[basename]) <= widths + OPENING_TOL_M
    approach = poses[:, :3, 0]
    tcp = poses[:, :3, 3] + float(offset) * approach
    along = np.einsum("ni,ni->n", tcp, approach)  # the object's centre (origin) is at 0
    entry = (points @ approach.T).min(axis=0)
    depth_ok = (along - entry >= MIN_GRASP_DEPTH_M) & (along <= PAST_CENTRE_TOL_M)
    good = fits & depth_ok
    arm = params.get("arm", "right")
    arms = rules.ARMS if arm == "auto" else (arm,) if arm in rules.ARMS else ()
    if not arms:
        c.add(path, f"{where}: extra_params.arm {arm!r} is not left, right or auto")
    counts = {}
    for a in rules.ARMS:
        idx = per_arm[a]
        counts[a] = int(good[idx].sum())
    c.grasp_counts[f"{path.name}:{where}"] = counts
    for a in arms:
        if counts[a]:
            continue
        idx = per_arm[a]
        why = [f"{len(poses) - len(idx)} of {len(poses)} dropped by Genie Sim's upside-down filter for the {a} arm"]
        if len(idx):
            why.append(f"{int((~fits[idx]).sum())} do not fit the gripper")
            why.append(f"{int((fits[idx] & ~depth_ok[idx]).sum())} put the fingertips outside the object or past "
                       f"its centre after grasp_offset {float(offset)} m")
        c.add(path, f"{where}: no grasp of {oid!r} usable by the {a} arm ({'; '.join(why)})")


def _labels(inter: dict[str, Any] | None, side: str, primitive: str | None) -> list[dict[str, Any]]:
    place = ((inter or {}).get(side) or {}).get("place") or {}
    chosen = [place[primitive]] if primitive and primitive in place else list(place.values()) if not primitive else []
    out = []
    for labels in chosen:
        for lab in labels if isinstance(labels, list) else [labels]:
            if isinstance(lab, dict) and _is_vec(lab.get("xyz"), 3) and _is_vec(lab.get("direction"), 3) \
                    and np.linalg.norm(lab["direction"]) > 0:
                out.append(lab)
    return out


def _check_place(c: _Collector, path: Path, where: str, task: dict[str, Any], st: dict[str, Any],
                 ids: dict[str, str], interactions: dict[str, Any]) -> None:
    a_id = (st.get("active") or {}).get("object_id")
    p_id = (st.get("passive") or {}).get("object_id")
    if a_id not in ids or p_id not in ids or ids[a_id] not in c.points or ids[p_id] not in c.points:
        return
    a_pts, p_pts = c.points[ids[a_id]], c.points[ids[p_id]]
    a_pose, p_pose = _object_pose(task, a_id, a_pts), _object_pose(task, p_id, p_pts)
    if a_pose is None or p_pose is None:
        c.add(path, f"{where}: no pose for {a_id if a_pose is None else p_id!r} to check where the object lands")
        return
    params = st.get("extra_params") or {}
    actives = rules.active_elements(params, a_pose, _labels(interactions.get(ids[a_id]), "active",
                                                            (st.get("active") or {}).get("primitive")))
    passives = _labels(interactions.get(ids[p_id]), "passive", (st.get("passive") or {}).get("primitive"))
    if not actives or not passives:
        return  # missing labels are reported by the reference checks
    p_world = np.c_[p_pts, np.ones(len(p_pts))] @ p_pose.T
    for lab in passives:
        point = p_pose @ np.r_[np.asarray(lab["xyz"], dtype=float), 1.0]
        top = float(p_world[:, 2].max())
        if abs(point[2] - top) > LABEL_ON_TOP_TOL_M:
            c.add(path, f"{where}: {p_id!r}'s place label is {point[2] - top:+.3f} m from its top surface")
            continue
        for xyz, direction in actives:
            placed = rules.placed_pose(a_pose, xyz, direction, p_pose, lab["xyz"], lab["direction"])
            bottom = float((np.c_[a_pts, np.ones(len(a_pts))] @ placed.T)[:, 2].min())
            gap = bottom - float(point[2])
            if abs(gap) > PLACE_TOL_M:
                mode = "its origin" if params.get("place_with_origin_orientation", True) else "its place label"
                side = "under" if gap < 0 else "above"
                c.add(path, f"{where}: Genie Sim puts {a_id!r}'s bottom {abs(gap):.3f} m {side} the goal surface "
                            f"(it aligns {mode}; place_with_origin_orientation="
                            f"{params.get('place_with_origin_orientation', True)})")
                return


def _scene_info(c: _Collector, usd: str) -> dict[str, Any] | None:
    """Meshes (world boxes, colliders) and lights of a background scene, composed; cached."""
    if usd in c.scenes:
        return c.scenes[usd]
    info: dict[str, Any] | None = None
    stage = Usd.Stage.Open(str(c.root / usd)) if (c.root / usd).is_file() else None
    if stage is not None:
        cache = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_])
        meshes, no_collider, lights = [], [], 0
        for prim in stage.Traverse():
            if prim.HasAPI(UsdLux.LightAPI):
                lights += 1
            if prim.IsA(UsdGeom.Mesh):
                box = cache.ComputeWorldBound(prim).ComputeAlignedRange()
                if not box.IsEmpty():
                    meshes.append((np.array(box.GetMin()), np.array(box.GetMax())))
                if not prim.HasAPI(UsdPhysics.CollisionAPI):
                    no_collider.append(str(prim.GetPath()))
        info = {"meshes": meshes, "no_collider": no_collider, "lights": lights}
        if no_collider:
            c.add(usd, f"{len(no_collider)} background meshes without UsdPhysics collision (first: {no_collider[0]}); "
                       "Genie Sim's server adds physics only to objects it adds itself")
    c.scenes[usd] = info
    return info


def _check_scene_and_robot(c: _Collector, path: Path, task: dict[str, Any]) -> None:
    scene = task.get("scene") or {}
    usds = scene.get("scene_usd")
    infos = [_scene_info(c, u) for u in (usds if isinstance(usds, list) else [usds] if usds else [])]
    infos = [i for i in infos if i is not None]
    lights = task.get("lights")
    has_task_lights = isinstance(lights, dict) and any(isinstance(v, list) and v for v in lights.values())
    if infos and not has_task_lights and not any(i["lights"] for i in infos):
        c.add(path, "no lights: neither the background scene nor a `lights` entry has one (Genie Sim's server "
                    "creates lights only from the task's `lights`)")
    robot = task.get("robot") or {}
    init = robot.get("robot_init_pose") or {}
    if infos and isinstance(init, dict) and _is_vec(init.get("position"), 3):
        x, y, z = (float(v) for v in init["position"])
        spec = ROBOTS.get(str(robot.get("robot_id", "")).lower())
        r = spec.base_radius_m if spec else 0.0
        floors = [(lo, hi) for i in infos for lo, hi in i["meshes"] if abs(hi[2] - z) <= FLOOR_TOL_M]
        if not any(lo[0] <= x - r and x + r <= hi[0] and lo[1] <= y - r and y + r <= hi[1] for lo, hi in floors):
            c.add(path, f"robot.robot_init_pose: the base at ({x:.3f}, {y:.3f}, {z:.3f}) with radius {r} m does not "
                        "stand wholly on a background surface at its height (a floor)")
    cfg = str(robot.get("robot_cfg") or "")
    if "dual" in cfg and robot.get("arm") != "dual":
        c.add(path, f"robot.arm is {robot.get('arm')!r}; Genie Sim's shipped tasks for {cfg} use \"dual\"")
    pose = robot.get("init_arm_pose")
    if robot.get("robot_id") in ("G1", "G2"):
        missing = [arm for arm, key in ARM_JOINTS.items()
                   if not isinstance(pose, dict) or sum(1 for k, v in pose.items() if key in k and isinstance(v, (int, float))) < 7]
        if missing:
            c.add(path, f"robot.init_arm_pose lacks the {' and '.join(missing)} arm's 7 joints (shipped tasks give the "
                        "ready pose; empty leaves the arms at zero)")
    desc = task.get("task_description") or {}
    for key in ("task_name", "init_scene_text"):
        if not (isinstance(desc.get(key), str) and desc[key].strip()):
            c.add(path, f"task_description.{key} missing or empty (Genie Sim reads it; shipped tasks set it)")


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
    _check_scene_and_robot(c, path, task)
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
        elif action == "pick" and passive_id in ids:
            _check_pick(c, path, where, task, st, passive_id, ids[passive_id])
        if action == "place":
            _check_place(c, path, where, task, st, ids, interactions)
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


def _same_file(a: Path, b: Path) -> bool:
    if not b.is_file():
        return False
    try:
        if a.samefile(b):
            return True
    except OSError:
        return False
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def task_references(task: dict[str, Any]) -> list[str]:
    """Folders and files (relative to SIM_ASSETS) a task makes Genie Sim load, besides the robot."""
    refs: list[str] = []
    objs = task.get("objects") or {}
    for group in ("task_related_objects", "fix_objects", "scene_objects", "attach_objects"):
        for o in objs.get(group) or []:
            if not isinstance(o, dict):
                continue
            for e in o.get("candidate_objects") or [o]:
                d = str(e.get("data_info_dir") or "").rstrip("/")
                if d:
                    refs += [f"{d}/{layout.ALIGNED_USD}", f"{d}/{layout.OBJECT_PARAMETERS}",
                             f"{layout.interaction_dir(Path(d).name)}/{layout.INTERACTION}"]
    usds = (task.get("scene") or {}).get("scene_usd")
    refs += [str(u) for u in (usds if isinstance(usds, list) else [usds] if usds else [])]
    return list(dict.fromkeys(refs))


def _check_assets(c: _Collector, assets: Path, tasks: list[Path]) -> None:
    """What Genie Sim will look for under SIM_ASSETS = `assets` for these tasks."""
    label = f"--assets {assets}"
    if not assets.is_dir():
        c.add(label, "not a folder")
        return
    robots: set[str] = set()
    refs: list[str] = []
    for t in tasks:
        try:
            task = json.loads(t.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue  # reported by the task check
        if not isinstance(task, dict):
            continue
        robots.add(str((task.get("robot") or {}).get("robot_cfg") or ""))
        refs += task_references(task)
        refs += _grasp_files(c.root, task)
        refs += _scene_dependencies(c.root, task)
    for cfg in sorted(robots):
        needed = ROBOT_ASSETS.get(cfg)
        if needed is None:
            c.add(label, f"robot_cfg {cfg!r}: which robot files Genie Sim loads for it is not known to this check")
            continue
        usd, curobo = needed
        if not (assets / usd).is_file():
            c.add(label, f"{usd} missing: Genie Sim's server loads the robot from $SIM_ASSETS/{usd} "
                         "(install the bundle into Genie Sim's assets folder, do not point SIM_ASSETS at the bundle)")
        if not (assets / curobo).is_dir():
            c.add(label, f"{curobo} missing: Genie Sim's startup copies cuRobo's robot assets from $SIM_ASSETS/{curobo}")
    for rel in dict.fromkeys(refs):
        src, dst = c.root / rel, assets / rel
        if not dst.exists():
            c.add(label, f"{rel} missing (the tasks name it; run `blueprint geniesim install`)")
        elif src.is_file() and not _same_file(src, dst):
            c.add(label, f"{rel} differs from the bundle's copy")
    # Genie Sim finds interaction data by the object folder's basename: it must be unique in the tree
    basenames = {Path(r).parent.name for r in refs if r.endswith(layout.ALIGNED_USD)}
    seen: dict[str, list[str]] = {}
    objects = assets / "objects"
    if objects.is_dir() and basenames:
        for dirpath, dirnames, _ in os.walk(objects, followlinks=False):
            for d in dirnames:
                if d in basenames:
                    seen.setdefault(d, []).append(os.path.relpath(os.path.join(dirpath, d), assets))
    for name, where in sorted(seen.items()):
        if len(where) > 1:
            c.add(label, f"object folder name {name!r} appears {len(where)} times ({', '.join(sorted(where))}); "
                         "Genie Sim finds interaction data by folder name")


def _scene_dependencies(root: Path, task: dict[str, Any]) -> list[str]:
    """Files the task's background scenes reference (relative to the bundle root)."""
    out = []
    usds = (task.get("scene") or {}).get("scene_usd")
    for u in usds if isinstance(usds, list) else [usds] if usds else []:
        layer = Sdf.Layer.FindOrOpen(str(root / u)) if (root / u).is_file() else None
        if layer is None:
            continue
        for dep in layer.GetCompositionAssetDependencies():
            path = (root / u).parent / dep
            rel = os.path.relpath(os.path.normpath(path), root)
            if not rel.startswith(".."):
                out.append(rel)
    return out


def _grasp_files(root: Path, task: dict[str, Any]) -> list[str]:
    """Grasp files the tasks' objects name in their interaction.json (relative to the bundle root)."""
    out = []
    for rel in task_references(task):
        if not rel.endswith(layout.INTERACTION):
            continue
        try:
            inter = json.loads((root / rel).read_text(encoding="utf-8")).get("interaction") or {}
        except (OSError, ValueError, AttributeError):
            continue
        grasp = (inter.get("passive") or {}).get("grasp") or {}
        for files in grasp.values() if isinstance(grasp, dict) else []:
            for f in files if isinstance(files, list) else [files]:
                out.append(f"{Path(rel).parent}/{f}")
    return out


def check_bundle(root: str | Path, stroke_m: float = 0.08, assets: str | Path | None = None) -> dict[str, Any]:
    """Counts of what was checked and usable grasps per arm per pick stage; raises InvalidInputError
    listing every problem. `assets`: the folder SIM_ASSETS will be (checked as Genie Sim loads it)."""
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
    if assets is not None:
        _check_assets(c, Path(assets).resolve(), tasks)
    if c.problems:
        shown = c.problems[:MAX_PROBLEMS]
        raise InvalidInputError(f"{root.name}: native bundle check failed with {len(c.problems)} problem(s)",
                                shown, omitted=len(c.problems) - len(shown))
    return {"objects": len(objects), "interactions": len(interactions), "tasks": len(tasks),
            "grasps_per_arm": c.grasp_counts}
