"""The scene camera of one task: chosen among candidate poses so that it sees the work.

`build_sim_scene` puts the fixed camera `scene_cam` 0.9 m ahead of the work point (0.5 m in front
of the base) and 0.7 m up, looking back at the robot. In front of a drawer or a shelf that is
inside or behind the furniture: it sees a carcass or a back panel for the whole episode.
`choose_scene_camera(sim, task)` (called by the episodes stage once per compiled task scene,
`scenes.sim_for`) keeps that pose when it sees the work and otherwise moves the camera to the best
of a fixed candidate set. The wrist camera is unchanged.

Points that matter (`task_points`):
- pick_place: the target's centre, a point 5 mm under its top, the goal spot (the goal
  rectangle's centre 3 cm above the support's surface, where the placed object will stand) and
  the TCP;
- open_close (drawers and doors): the handle bar's centre and the TCP.
Frames (`predicted_states`): the start (the scene as built, the arm at home; a closing task's part
open where its opening ends), the grasp and the
final frame, the arm posed by IK (no obstacles) as the episode roughly will: the TCP at the
target's centre, top-down or (on a shelf, or when top-down is out of reach) from the base's side,
level or pitched down 25 / 45 deg, and at the end 12 cm back along the approach from the target
placed on the goal spot; for a drawer or door, at the handle (level or pitched +-20 deg, as
open_close plans it) and at the end 10 cm above the handle where the task leaves it. When the grasp or the
final pose has no IK solution, the start frame also checks where the hand will be (8 cm above the
target's top, at most half way to the shelf board above; 10 cm out from the handle along the
pull) and where the open handle will be.

Visible: a point is visible from a camera when it lies in the camera's field of view (within
VIEW_MARGIN of the half angle on both image axes; images are square) and a MuJoCo ray cast
(`mj_multiRay`, the geom groups the renderer draws) from the camera to the point hits nothing
before the point, or first hits a geom of "the work": the target's geoms (a container's walls,
a drawer's handle) or the hand's (the hand box, fingers and pads, and the flange link the hand
hangs from). An arm link or furniture in front of a point hides it.

Candidates (`candidate_poses`), looking at the centre of the bounding box of the start points
(hand and open handle included): the fixed default pose first, then every combination of 18
azimuths (20 deg apart, from the default's direction), elevations of 10, 25, 40, 55 and 70 deg and
distances of 0.7, 1.0, 1.4, 1.9 and 2.4 m. A candidate is dropped when it is less than
MIN_HEIGHT_M above the floor, within CLEARANCE_M of any geom's bounding box (furniture, objects,
the robot at home), or outside the room: the header's room box (with its corner or its centre at
`room_origin_m`, whichever holds every object's centre) less WALL_MARGIN_M, under the ceiling;
without room bounds, the objects' bounding box grown by OPEN_ROOM_MARGIN_M.

Choice: the fewest hidden (frame, point) pairs; ties go to the default pose, then to the
candidate whose direction from the look-at point is nearest the default's, then to the distance
nearest the default's, so that datasets stay stable (the default is scored first and kept at
once when it sees everything; candidates are then scored in tie order and the first that sees
everything is taken). The choice is written into the model as the camera's nominal pose
(`SimScene.set_camera_pose`, so the per-episode jitter applies around it and
`restore_nominal` returns to it) and kept as
`SimScene.scene_camera` (a `CameraChoice`: name, pose, score = the fraction of the pairs
visible, the hidden pairs, and the same for the default).

During an episode (`frame_visibility`): the same test on the logged states of the start, grasp
(end of the gripper's closing) and final frames, from the camera as it was (jitter included).
Episodes report `scene_camera` (the choice), `scene_camera_visibility` (per frame: the fraction
visible and the hidden points) and `scene_camera_visible_fraction` (over the frames); the stage's
summary.json has a `scene_camera` block (`summarize_cameras`). docs/cameras.md has the figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.scene.floor import floor_height_m, room_bounds
from blueprint_pipeline.sim.opening import Opening, PartJoint, opening
from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.scene.records import Scene
from blueprint_pipeline.rotations import axis_angle_matrix, matrix_to_quat
from blueprint_pipeline.sim.scene_builder import SimScene

SCENE_CAMERA = "scene_cam"
AZIMUTHS_DEG = tuple(range(0, 360, 20))  # relative to the default camera's direction
ELEVATIONS_DEG = (10.0, 25.0, 40.0, 55.0, 70.0)
DISTANCES_M = (0.7, 1.0, 1.4, 1.9, 2.4)
VIEW_MARGIN = 0.9  # a point must lie within this share of the half field of view (tangent)
MIN_HEIGHT_M = 0.3  # camera at least this high above the floor
CLEARANCE_M = 0.05  # camera at least this far outside every geom's bounding box
WALL_MARGIN_M = 0.1  # camera at least this far inside the room's walls and under its ceiling
OPEN_ROOM_MARGIN_M = 0.5  # without room bounds: the objects' x-y box grown by this much
RAY_GEOM_GROUPS = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)  # what mujoco.Renderer draws by default
GOAL_LIFT_M = 0.03
TOP_INSET_M = 0.005
HAND_ABOVE_TARGET_M = 0.08
HAND_BEHIND_HANDLE_M = 0.10


@dataclass(frozen=True)
class ViewPoint:
    """A point to see: world position = xpos[body] + xmat[body] @ local + world_offset (body -1:
    the world frame)."""

    name: str
    body: int
    local: tuple[float, float, float] = (0.0, 0.0, 0.0)
    world_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def position(self, data: mujoco.MjData) -> np.ndarray:
        off = np.asarray(self.world_offset, dtype=float)
        if self.body < 0:
            return np.asarray(self.local, dtype=float) + off
        return data.xpos[self.body] + data.xmat[self.body].reshape(3, 3) @ np.asarray(self.local) + off


@dataclass(frozen=True)
class CameraPose:
    name: str  # "default" or "az{deg}_el{deg}_d{m}"
    pos_m: np.ndarray
    look_at_m: np.ndarray

    @property
    def rot(self) -> np.ndarray:
        """Camera frame columns (x right, y up, z backwards, as MuJoCo's camera frames; the
        x axis level, as scene_builder's look-at)."""
        z = self.pos_m - self.look_at_m
        z = z / np.sqrt(z @ z)
        x = np.array([-z[1], z[0], 0.0])  # (-z) x up, level
        x /= np.sqrt(x @ x)
        y = np.array([z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]])
        return np.column_stack([x, y, z])


@dataclass(frozen=True)
class CameraChoice:
    """The scene camera chosen for a task and how well it sees, for reports."""

    name: str
    pos_m: tuple[float, float, float]
    look_at_m: tuple[float, float, float]
    score: float  # fraction of the (frame, point) pairs visible
    frames: tuple[str, ...]  # the predicted frames scored (start, and grasp / final when solved)
    hidden: tuple[str, ...]  # "frame:point"
    default_score: float  # the same for the fixed default pose
    default_hidden: tuple[str, ...]
    candidates: int  # poses scored (the default first; the search stops at the first that sees everything)
    quat_wxyz: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # the camera's orientation

    def apply(self, sim: SimScene) -> None:
        """Put `scene_cam` where this choice says (a choice made for the same task's scene in
        another process: the episodes stage chooses once per task and its workers apply it)."""
        sim.set_camera_pose(SCENE_CAMERA, np.array(self.pos_m), np.array(self.quat_wxyz))
        sim.scene_camera = self

    def as_dict(self) -> dict:
        return {"name": self.name, "pos_m": [round(v, 4) for v in self.pos_m],
                "look_at_m": [round(v, 4) for v in self.look_at_m], "score": self.score, "frames": list(self.frames),
                "hidden": list(self.hidden), "default_score": self.default_score,
                "default_hidden": list(self.default_hidden), "candidates": self.candidates}


# --- the points of a task ------------------------------------------------------------------------

def _body_subtree(model: mujoco.MjModel, root: int) -> list[int]:
    out = []
    for b in range(model.nbody):
        a = b
        while a > 0 and a != root:
            a = int(model.body_parentid[a])
        if a == root:
            out.append(b)
    return out


def work_geoms(sim: SimScene, task: TaskSpec) -> np.ndarray:
    """Mask of the geoms a ray may hit on its way to a point that matters: the target's (a
    drawer's handle included) and the hand's."""
    m = sim.model
    mask = np.zeros(m.ngeom, bool)
    mask[sim.object_geom_ids(task.target_object_id)] = True
    handle = SimScene.handle_geom_name(task.target_object_id)
    if task.type == "open_close" and mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, handle) >= 0:
        mask[m.geom(handle).id] = True
    hand_body = m.body(sim.names.hand_body).id
    hand = _body_subtree(m, hand_body) + [int(m.body_parentid[hand_body])]  # the flange link carries the hand
    mask[np.isin(m.geom_bodyid, hand)] = True
    return mask


def _opening_of(sim: SimScene, task: TaskSpec) -> Opening:
    """The drawer's or door's motion from where the task starts it to the task's target."""
    joint = PartJoint.of(sim, task.target_object_id)
    return opening(sim, task.target_object_id, joint.start_q(task), joint.target_q(task))


def _tcp_point(sim: SimScene) -> ViewPoint:
    site = sim.model.site(sim.names.tcp_site)
    return ViewPoint("hand", int(site.bodyid[0]), tuple(float(v) for v in site.pos))


def task_points(sim: SimScene, task: TaskSpec, start: bool = True) -> list[ViewPoint]:
    """The points the scene camera must see (module docstring); `start` adds the ones only the
    start frame checks (the hand where it will grasp, the open handle)."""
    m, target = sim.model, task.target_object_id
    obj = sim.scene.by_id()[target]
    body = sim.body_id(target)
    if task.type == "open_close":
        h = m.geom(SimScene.handle_geom_name(target))
        op = _opening_of(sim, task)
        handle_local = np.asarray(h.pos, dtype=float)
        pts = [ViewPoint("handle", body, tuple(handle_local)), _tcp_point(sim)]
        if start:
            pts += [ViewPoint("handle_open", body, tuple(handle_local), tuple(op.handle_at(1.0) - op.handle_m)),
                    ViewPoint("hand_at_handle", body, tuple(handle_local), tuple(HAND_BEHIND_HANDLE_M * op.out))]
        return pts
    top = float(obj.aabb_max_m[2] - obj.position_m[2]) - TOP_INSET_M
    pts = [ViewPoint("target", body), ViewPoint("target_top", body, world_offset=(0.0, 0.0, top))]
    if task.goal is not None:
        g = task.goal
        pts.append(ViewPoint("goal", -1, (g.center_m[0], g.center_m[1], g.surface_z_m + GOAL_LIFT_M)))
    pts.append(_tcp_point(sim))
    if start:
        above = HAND_ABOVE_TARGET_M
        level = sim.shelf_level(target)
        if level is not None:
            above = min(above, 0.5 * (float(level.ceiling_m) - float(obj.aabb_max_m[2])))
        pts.append(ViewPoint("hand_at_target", body, world_offset=(0.0, 0.0, top + TOP_INSET_M + max(above, 0.0))))
    return pts


def _quat_mat(q) -> np.ndarray:
    m = np.zeros(9)
    q = np.asarray(q, dtype=float)
    mujoco.mju_quat2Mat(m, q / np.linalg.norm(q))
    return m.reshape(3, 3)


# --- visibility ----------------------------------------------------------------------------------

def visible_mask(model: mujoco.MjModel, data: mujoco.MjData, cam_pos: np.ndarray, cam_rot: np.ndarray,
                 fovy_deg: float, points: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Per point (rows of `points`): in the field of view, and the ray from the camera meets
    nothing but the work before it (`data` holds the kinematics of the state to check)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    vec = pts - cam_pos
    v = vec @ cam_rot  # camera-frame coordinates: R^T (p - c)
    depth = -v[:, 2]
    half = VIEW_MARGIN * np.tan(np.deg2rad(fovy_deg) / 2)
    out = (depth > 1e-6) & (np.abs(v[:, 0]) <= half * depth) & (np.abs(v[:, 1]) <= half * depth)
    if not out.any():
        return out
    length = np.linalg.norm(vec, axis=1)
    n = len(pts)
    geomid = np.full(n, -1, np.int32)
    dist = np.full(n, -1.0)
    mujoco.mj_multiRay(model, data, np.asarray(cam_pos, dtype=float), (vec / length[:, None]).ravel(),
                       RAY_GEOM_GROUPS, 1, -1, geomid, dist, None, n, float(length.max()) + 1.0)
    clear = (geomid < 0) | (dist < 0) | (dist >= length - 1e-4) | work[np.maximum(geomid, 0)] & (geomid >= 0)
    return out & clear


def point_visible(model: mujoco.MjModel, data: mujoco.MjData, cam_pos: np.ndarray, cam_rot: np.ndarray,
                  fovy_deg: float, point: np.ndarray, work: np.ndarray) -> bool:
    return bool(visible_mask(model, data, cam_pos, cam_rot, fovy_deg, np.asarray(point)[None], work)[0])


def visibility(model: mujoco.MjModel, data: mujoco.MjData, cam_pos: np.ndarray, cam_rot: np.ndarray,
               fovy_deg: float, points: list[ViewPoint], work: np.ndarray) -> tuple[list[str], list[str]]:
    """(visible, hidden) point names; `data` holds the kinematics of the state to check."""
    seen = visible_mask(model, data, cam_pos, cam_rot, fovy_deg, np.array([p.position(data) for p in points]), work)
    return [p.name for p, s in zip(points, seen) if s], [p.name for p, s in zip(points, seen) if not s]


# --- candidates ----------------------------------------------------------------------------------

def room_box(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of where a camera may stand: the header's room box less WALL_MARGIN_M (module
    docstring), else the objects' box grown by OPEN_ROOM_MARGIN_M (no ceiling)."""
    objs = scene.objects
    floor = floor_height_m(objs)
    room = room_bounds(scene)
    if room is not None:
        lo, hi = room
        return (np.array([lo[0] + WALL_MARGIN_M, lo[1] + WALL_MARGIN_M, floor + MIN_HEIGHT_M]),
                np.array([hi[0] - WALL_MARGIN_M, hi[1] - WALL_MARGIN_M, hi[2] - WALL_MARGIN_M]))
    if not objs:
        return np.array([-np.inf, -np.inf, floor + MIN_HEIGHT_M]), np.full(3, np.inf)
    lo = np.min([o.aabb_min_m for o in objs], axis=0) - OPEN_ROOM_MARGIN_M
    hi = np.max([o.aabb_max_m for o in objs], axis=0) + OPEN_ROOM_MARGIN_M
    return np.array([lo[0], lo[1], floor + MIN_HEIGHT_M]), np.array([hi[0], hi[1], np.inf])


def _inside_a_geom(model: mujoco.MjModel, data: mujoco.MjData, pos: np.ndarray) -> bool:
    """Within CLEARANCE_M of any geom's bounding box (planes aside)."""
    local = np.einsum("gji,gj->gi", data.geom_xmat.reshape(-1, 3, 3), pos - data.geom_xpos) - model.geom_aabb[:, :3]
    inside = np.all(np.abs(local) <= model.geom_aabb[:, 3:] + CLEARANCE_M, axis=1)
    return bool(np.any(inside & (model.geom_type != mujoco.mjtGeom.mjGEOM_PLANE)))


def default_pose(sim: SimScene) -> tuple[CameraPose, np.ndarray]:
    """The scene camera as compiled (scene_builder's fixed pose, remembered at the first choice
    so that choosing again starts from the same candidates) and its rotation."""
    c = sim.model.camera(SCENE_CAMERA)
    pos, quat = sim.__dict__.setdefault("_compiled_scene_cam", (c.pos.copy(), c.quat.copy()))
    rot = _quat_mat(quat)
    return CameraPose("default", pos.copy(), pos - rot[:, 2]), rot  # a MuJoCo camera looks along its -z


def candidate_poses(model: mujoco.MjModel, data: mujoco.MjData, scene: Scene, look_at: np.ndarray,
                    default: CameraPose) -> list[CameraPose]:
    """The valid candidate poses, default first (module docstring)."""
    lo, hi = room_box(scene)
    d0 = default.pos_m - default.look_at_m
    az0 = float(np.degrees(np.arctan2(d0[1], d0[0])))
    out = [default]
    for el in ELEVATIONS_DEG:
        for dist in DISTANCES_M:
            for az in AZIMUTHS_DEG:
                a, e = np.radians(az0 + az), np.radians(el)
                pos = look_at + dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
                if np.any(pos < lo) or np.any(pos > hi) or _inside_a_geom(model, data, pos):
                    continue
                out.append(CameraPose(f"az{az}_el{el:.0f}_d{dist:.1f}", pos, look_at.copy()))
    return out


def _home_data(sim: SimScene) -> mujoco.MjData:
    d = mujoco.MjData(sim.model)
    mujoco.mj_resetDataKeyframe(sim.model, d, sim.model.key("home").id)
    mujoco.mj_kinematics(sim.model, d)
    return d


def _hand_rot(approach: np.ndarray) -> np.ndarray:
    """TCP rotation approaching along `approach` with the fingers closing horizontally across it
    (grasp._hand_rotation's convention: z = approach, y = finger axis)."""
    z = approach / np.linalg.norm(approach)
    y = np.cross(z, [0.0, 0.0, 1.0]) if abs(z[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    y /= np.linalg.norm(y)
    return np.column_stack([np.cross(y, z), y, z])


def _pitched(horizontal: np.ndarray, pitch_rad: float) -> np.ndarray:
    h = np.array([horizontal[0], horizontal[1], 0.0]) / max(float(np.linalg.norm(horizontal[:2])), 1e-9)
    return np.cos(pitch_rad) * h - np.sin(pitch_rad) * np.array([0.0, 0.0, 1.0])


def predicted_states(sim: SimScene, task: TaskSpec, home: mujoco.MjData) -> dict[str, np.ndarray]:
    """qpos of the start (home), grasp and final frames as the episode will roughly have them:
    the arm solved by IK (no obstacles) for the TCP at the target's centre (top-down, or from the
    base's side, level or pitched down 25 / 45 deg, for a target on a shelf or when top-down is
    out of reach) and 12 cm back along the approach from the placed target over the goal; for a
    drawer, at the handle (level or pitched +-20 deg, as open_close plans it) and 10 cm above the
    open handle with the drawer open. A frame whose pose has no IK solution is left out."""
    from blueprint_pipeline.sim.ik import ArmIK  # only the choice needs an IK model

    m = sim.model
    arm_qadr = np.array([m.joint(j).qposadr[0] for j in sim.names.joints])
    ik = ArmIK(sim.robot, sim.base_pos_m, sim.base_quat_wxyz)
    q_home = home.qpos[arm_qadr].copy()
    base_q = home.qpos.copy()  # the start state: the part where the task starts it
    if task.type == "open_close":
        joint = PartJoint.of(sim, task.target_object_id)
        base_q[joint.qpos_adr] = joint.start_q(task)
    states = {"start": base_q.copy()}
    target = task.target_object_id

    def solve(tcp: np.ndarray, approaches: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        for a in approaches:
            res = ik.solve(tcp, _hand_rot(a), q_home)
            if res.ok(tol_m=0.01, tol_rad=0.05):
                return res.q_rad, a
        return None

    def state(q_arm: np.ndarray) -> np.ndarray:
        q = base_q.copy()
        q[arm_qadr] = q_arm
        return q

    if task.type == "open_close":
        op = _opening_of(sim, task)
        pitches = (0.0, np.deg2rad(20.0), -np.deg2rad(20.0))
        grasp = solve(op.handle_m, [_pitched(-op.out, p) for p in pitches])
        if grasp is not None:
            states["grasp"] = state(grasp[0])
            turned = axis_angle_matrix(op.axis, op.angle_rad) @ grasp[1] if op.axis is not None else grasp[1]
            final = solve(op.handle_at(1.0) + np.array([0.0, 0.0, 0.10]), [turned])
            if final is not None:
                q = state(final[0])
                q[joint.qpos_adr] = joint.target_q(task)
                states["final"] = q
        return states
    centre = home.xpos[sim.body_id(target)].copy()
    side = centre - sim.base_pos_m
    approaches = [_pitched(side, p) for p in (0.0, np.deg2rad(25.0), np.deg2rad(45.0))]
    if sim.shelf_level(target) is None:
        approaches.insert(0, np.array([0.0, 0.0, -1.0]))
    grasp = solve(centre, approaches)
    if grasp is None:
        return states
    states["grasp"] = state(grasp[0])
    if task.goal is not None:
        obj = sim.scene.by_id()[target]
        placed = np.array([task.goal.center_m[0], task.goal.center_m[1],
                           task.goal.surface_z_m + float(obj.position_m[2] - obj.aabb_min_m[2])])
        final = solve(placed - 0.12 * grasp[1], [grasp[1]])
        if final is not None:
            q = state(final[0])
            adr = sim.free_qpos_adr(target)
            q[adr:adr + 3] = placed
            states["final"] = q
    return states


def choose_scene_camera(sim: SimScene, task: TaskSpec) -> CameraChoice:
    """Score every candidate pose on the task's points in its predicted start, grasp and final
    states and move `scene_cam` to the best (module docstring); returns the choice, also kept as
    `sim.scene_camera`."""
    m = sim.model
    home = _home_data(sim)
    states = predicted_states(sim, task, home)
    work = work_geoms(sim, task)
    cam = m.camera(SCENE_CAMERA).id
    fovy = float(m.cam_fovy[cam])
    default, default_rot = default_pose(sim)
    # frames the IK could not predict are stood in for by points at the start (the hand where it
    # will grasp, the open handle)
    start_only = "grasp" not in states or "final" not in states
    frames = {k: task_points(sim, task, start=(k == "start" and start_only)) for k in states}
    pos = np.array([p.position(home) for p in task_points(sim, task, start=True)])
    look_at = 0.5 * (pos.min(axis=0) + pos.max(axis=0))
    ref_dir = default_rot[:, 2]  # from the scene towards the default camera
    ref_dist = float(np.linalg.norm(default.pos_m - look_at))
    datas = {}
    for frame, points in frames.items():
        d = datas[frame] = mujoco.MjData(m)
        d.qpos[:] = states[frame]
        mujoco.mj_kinematics(m, d)
    where = {f: np.array([p.position(datas[f]) for p in points]) for f, points in frames.items()}

    def hidden_from(pos: np.ndarray, rot: np.ndarray) -> list[str]:
        out = []
        for frame, points in frames.items():
            seen = visible_mask(m, datas[frame], pos, rot, fovy, where[frame], work)
            out += [f"{frame}:{p.name}" for p, ok in zip(points, seen) if not ok]
        return out

    def tie_key(pose: CameraPose) -> tuple[float, float]:
        off = pose.pos_m - look_at
        dist = float(np.linalg.norm(off))
        return -float(off @ ref_dir) / dist, abs(dist - ref_dist)

    default_hidden = hidden_from(default.pos_m, default_rot)
    best, best_rot, best_hidden, evaluated = default, default_rot, default_hidden, 1
    if default_hidden:  # ties go to the default: only look further when it misses something
        # in tie order, so the first candidate that sees everything is the choice
        for pose in sorted(candidate_poses(m, home, sim.scene, look_at, default)[1:], key=tie_key):
            rot = pose.rot
            h = hidden_from(pose.pos_m, rot)
            evaluated += 1
            if len(h) < len(best_hidden):
                best, best_rot, best_hidden = pose, rot, h
                if not h:
                    break
    n = sum(len(p) for p in frames.values())
    choice = CameraChoice(name=best.name, pos_m=tuple(float(v) for v in best.pos_m),
                          look_at_m=tuple(float(v) for v in best.look_at_m), score=1.0 - len(best_hidden) / n,
                          frames=tuple(frames), hidden=tuple(best_hidden), default_score=1.0 - len(default_hidden) / n,
                          default_hidden=tuple(default_hidden), candidates=evaluated,
                          quat_wxyz=tuple(float(v) for v in matrix_to_quat(best_rot)))
    choice.apply(sim)
    return choice


# --- during an episode ---------------------------------------------------------------------------

def place_scene_camera(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """Write `scene_cam`'s world pose into `data` from the model (`cam_pos`, `cam_quat`; it is a
    fixed camera on the world body). With island sleeping on, MuJoCo does not recompute the poses
    of the world body's cameras after the first forward pass of an MjData, so a camera moved in
    the model (the choice here, the episode's +-2 cm jitter) would not otherwise reach the
    renderer; call after mj_camlight."""
    cam = model.camera(SCENE_CAMERA).id
    if model.cam_bodyid[cam] != 0 or model.cam_mode[cam] != mujoco.mjtCamLight.mjCAMLIGHT_FIXED:
        return
    data.cam_xpos[cam] = model.cam_pos[cam]
    data.cam_xmat[cam] = _quat_mat(model.cam_quat[cam]).reshape(9)


def frame_visibility(sim: SimScene, task: TaskSpec, frames: dict[str, np.ndarray]) -> dict:
    """Visibility from `scene_cam` (as the model has it now: the episode's jitter included) of
    the task's points at logged states (frame name -> qpos): the fraction visible and the hidden
    points per frame, the fraction over all frames, and the camera choice (when one was made)."""
    m = sim.model
    d = sim.__dict__.get("_camera_data")
    if d is None:
        d = sim._camera_data = mujoco.MjData(m)  # type: ignore[attr-defined]
    cam = m.camera(SCENE_CAMERA).id
    points = task_points(sim, task, start=False)
    work = work_geoms(sim, task)
    per_frame, seen_total, total = {}, 0, 0
    for name, qpos in frames.items():
        d.qpos[:] = qpos
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_camlight(m, d)  # camera poses (mj_kinematics leaves them alone)
        place_scene_camera(m, d)
        seen, hidden = visibility(m, d, d.cam_xpos[cam].copy(), d.cam_xmat[cam].reshape(3, 3).copy(),
                                  float(m.cam_fovy[cam]), points, work)
        per_frame[name] = {"fraction": len(seen) / max(len(points), 1), "hidden": hidden}
        seen_total += len(seen)
        total += len(points)
    out = {"scene_camera_visibility": per_frame,
           "scene_camera_visible_fraction": seen_total / total if total else None}
    choice = getattr(sim, "scene_camera", None)
    if choice is not None:
        out["scene_camera"] = choice.as_dict()
    return out


def summarize_cameras(results: list[dict]) -> dict:
    """The episodes summary's `scene_camera` block: per task the chosen pose and its start score
    against the default's, and over the episodes the fraction of points visible (start, grasp and
    final frames)."""
    per_task: dict[str, dict] = {}
    fractions = []
    for r in results:
        m = r.get("metrics") or {}
        if isinstance(m.get("scene_camera"), dict):
            c = m["scene_camera"]
            per_task[r["task_id"]] = {k: c[k] for k in ("name", "score", "default_score", "hidden", "default_hidden")}
        if isinstance(m.get("scene_camera_visible_fraction"), (int, float)):
            fractions.append(float(m["scene_camera_visible_fraction"]))
    a = np.asarray(fractions, dtype=float)
    return {"per_task": per_task,
            "tasks_default_occluded": sum(1 for c in per_task.values() if c["default_score"] < 1.0),
            "tasks_chosen_sees_all": sum(1 for c in per_task.values() if c["score"] >= 1.0),
            "episodes": len(a),
            "episodes_all_visible": int(np.count_nonzero(a >= 1.0)),
            "visible_fraction": {"median": float(np.median(a)), "min": float(a.min())} if len(a) else None}
