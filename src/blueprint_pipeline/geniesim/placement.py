"""Robot base placement: next to the supporting furniture, facing it, everything within reach.

Candidates lie along each side of the support's oriented footprint, one base radius plus
CLEARANCE_M outside it, facing the support. A candidate is kept when every task point is within
REACH_MARGIN x reach of a shoulder and the base disc clears every obstacle's footprint; the one
with the smallest worst-case shoulder distance wins. If no side works, rings around the task
points are tried (still never the room centre by default). The base stands on the floor: when the
scene has a floor object, the whole base disc must lie within the floor's footprint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blueprint_pipeline.rotations import matrix_np, yaw_quat
from blueprint_pipeline.geniesim.records import RobotPlacement
from blueprint_pipeline.geniesim.robots import RobotSpec
from blueprint_pipeline.scene.carcass import carcass_of, front_along
from blueprint_pipeline.scene.records import SceneObject, SimRole
from blueprint_pipeline.scene.floor import floor_footprint

CLEARANCE_M = 0.03
SLIDE_STEP_M = 0.05
_SHELLS = (SimRole.SCENE_SHELL, SimRole.BACKGROUND)
Rect = tuple[float, float, float, float, float]  # centre x, centre y, half length along the yaw, half width, yaw


class Obstacles:
    """World footprints the robot base must not overlap: each object's oriented footprint (a
    rectangle turned with the object's yaw; an object tilted off upright counts by its x-y
    bounding box), so a base may stand close to a rotated table's edge."""

    def __init__(self, objects: Sequence[SceneObject], floor_z_m: float, height_m: float):
        centre, half, cos_sin, shell = [], [], [], []
        for o in objects:
            lo, hi = o.aabb_min_m, o.aabb_max_m
            if hi[2] <= floor_z_m + 0.03 or lo[2] >= floor_z_m + height_m:
                continue  # the floor itself, or above the robot
            rot = matrix_np(o.orientation_wxyz)
            if abs(rot[2, 2]) > 0.999:  # upright: its footprint is its x-y rectangle, turned
                yaw = float(np.arctan2(rot[1, 0], rot[0, 0]))
                centre.append(o.position_m[:2])
                half.append((0.5 * o.extents_m[0], 0.5 * o.extents_m[1]))
                cos_sin.append((np.cos(yaw), np.sin(yaw)))
            else:
                centre.append(((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2))
                half.append(((hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2))
                cos_sin.append((1.0, 0.0))
            shell.append(o.sim_role in _SHELLS)
        self.centre = np.array(centre, dtype=float).reshape(-1, 2)
        self.half = np.array(half, dtype=float).reshape(-1, 2)
        self.cos_sin = np.array(cos_sin, dtype=float).reshape(-1, 2)
        self.shell = np.array(shell, dtype=bool)
        self.floor = floor_footprint(objects)

    def with_rects(self, rects: Sequence[Rect]) -> Obstacles:
        """A copy with more footprints: turned rectangles, e.g. a door's panel at several angles
        of its swing, a drawer's travel."""
        r = np.asarray(rects, dtype=float).reshape(-1, 5)
        out = Obstacles.__new__(Obstacles)
        out.centre = np.vstack([self.centre, r[:, :2]])
        out.half = np.vstack([self.half, r[:, 2:4]])
        out.cos_sin = np.vstack([self.cos_sin, np.column_stack([np.cos(r[:, 4]), np.sin(r[:, 4])])])
        out.shell = np.append(self.shell, np.zeros(len(r), dtype=bool))
        out.floor = self.floor
        return out

    def on_floor(self, xy: np.ndarray, radius_m: float) -> np.ndarray:
        """For base centres xy (m, 2): True where the whole disc lies on the floor (always, without one)."""
        if self.floor is None:
            return np.ones(len(xy), dtype=bool)
        lo_x, lo_y, hi_x, hi_y = self.floor
        return ((xy[:, 0] - radius_m >= lo_x) & (xy[:, 0] + radius_m <= hi_x)
                & (xy[:, 1] - radius_m >= lo_y) & (xy[:, 1] + radius_m <= hi_y))

    def discs_clear(self, xy: np.ndarray, radius_m: float) -> np.ndarray:
        """For base centres xy (m, 2): True where a disc of `radius_m` touches no obstacle and lies on the floor."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        floor_ok = self.on_floor(xy, radius_m)
        if self.centre.shape[0] == 0:
            return floor_ok
        reach = np.hypot(self.half[:, 0], self.half[:, 1]) + radius_m
        lo_q, hi_q = xy.min(axis=0), xy.max(axis=0)
        c = self.centre
        near = ((c[:, 0] + reach >= lo_q[0]) & (c[:, 0] - reach <= hi_q[0])
                & (c[:, 1] + reach >= lo_q[1]) & (c[:, 1] - reach <= hi_q[1]))
        c, half, cs, shell = c[near], self.half[near], self.cos_sin[near], self.shell[near]
        rel_x = xy[:, 0:1] - c[:, 0]  # (m, n)
        rel_y = xy[:, 1:2] - c[:, 1]
        lx = cs[:, 0] * rel_x + cs[:, 1] * rel_y  # into each box's frame
        ly = -cs[:, 1] * rel_x + cs[:, 0] * rel_y
        inside = (np.abs(lx) <= half[:, 0]) & (np.abs(ly) <= half[:, 1])
        # a shell box around the base point is the room itself (walls are separate thin boxes)
        relevant = ~(shell[None, :] & inside)
        dx = np.maximum(np.abs(lx) - half[:, 0], 0.0)
        dy = np.maximum(np.abs(ly) - half[:, 1], 0.0)
        return floor_ok & ~np.any(relevant & (np.hypot(dx, dy) < radius_m), axis=1)


def _worst_distances(spec: RobotSpec, base_xy: np.ndarray, yaw: np.ndarray, floor_z: float,
                     points: np.ndarray) -> np.ndarray:
    """For m base poses: the largest distance from a task point to its nearest shoulder, (m,)."""
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    sh = np.asarray(spec.shoulders_base_m)  # (k, 3)
    wx = base_xy[:, 0:1] + c * sh[:, 0] - s * sh[:, 1]  # (m, k)
    wy = base_xy[:, 1:2] + s * sh[:, 0] + c * sh[:, 1]
    wz = np.broadcast_to(floor_z + sh[:, 2], wx.shape)
    shoulders = np.stack([wx, wy, wz], axis=2)  # (m, k, 3)
    d = np.linalg.norm(points[None, :, None, :] - shoulders[:, None, :, :], axis=3)  # (m, p, k)
    return d.min(axis=2).max(axis=1)


def _side_candidates(support: SceneObject, radius_m: float, focus_xy: np.ndarray,
                     faces: Sequence[tuple[int, float]] | None = None,
                     standoff_m: float = CLEARANCE_M) -> tuple[np.ndarray, np.ndarray]:
    """Base poses along the support's sides, the base disc `standoff_m` from them (`faces`: only
    these (local axis, sign) sides)."""
    rot = matrix_np(support.orientation_wxyz)
    centre = np.asarray(support.position_m[:2])
    ex, ey = support.extents_m[0] / 2, support.extents_m[1] / 2
    ax, ay = rot[:2, 0], rot[:2, 1]
    ax, ay = ax / max(np.linalg.norm(ax), 1e-9), ay / max(np.linalg.norm(ay), 1e-9)
    xys, yaws = [], []
    sides = {(0, 1.0): (ax, ay, ex, ey), (0, -1.0): (-ax, ay, ex, ey), (1, 1.0): (ay, ax, ey, ex), (1, -1.0): (-ay, ax, ey, ex)}
    for key, (normal, tangent, half_n, half_t) in sides.items():
        if faces is not None and key not in faces:
            continue
        line_c = centre + normal * (half_n + radius_m + standoff_m)
        best_t = float(np.clip(np.dot(focus_xy - centre, tangent), -half_t, half_t))
        offsets = np.concatenate([[best_t], np.arange(-half_t, half_t + 1e-9, SLIDE_STEP_M)])
        xys.append(line_c + offsets[:, None] * tangent)
        yaws.append(np.full(offsets.size, float(np.arctan2(-normal[1], -normal[0]))))
    return np.concatenate(xys), np.concatenate(yaws)


def _ring_candidates(focus_xy: np.ndarray, r_min: float, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    radii = np.arange(r_min, r_max + 1e-9, 0.05)
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rr, aa = np.meshgrid(radii, ang, indexing="ij")
    xy = focus_xy + np.stack([rr.ravel() * np.cos(aa.ravel()), rr.ravel() * np.sin(aa.ravel())], axis=1)
    return xy, aa.ravel() + np.pi


def place_robot(spec: RobotSpec, points_m: np.ndarray, support: SceneObject | None, obstacles: Obstacles,
                floor_z_m: float, faces: Sequence[tuple[int, float]] | None = None,
                mount_z_m: float | None = None, standoff_m: float = CLEARANCE_M,
                min_distance_m: float = 0.0) -> RobotPlacement | None:
    """A base pose with every point in `points_m` (p, 3) within reach, or None if there is none.
    `faces`: only these sides of the support, (local axis, sign), and no ring around the points
    (open furniture is worked from its open front); `mount_z_m`: the arm stands on a pedestal or
    lift at this height (a shelf's board) instead of the floor, for the reach test; `standoff_m`:
    gap between the base disc and the support's side; `min_distance_m`: no point nearer than this
    to the base's centre in x-y (a hand approaching level, as at a door's handle, needs room in
    front of the base). The first of `base_poses`."""
    found = base_poses(spec, points_m, support, obstacles, floor_z_m, faces, mount_z_m, standoff_m,
                       min_distance_m, count=1)
    return found[0] if found else None


ALTERNATIVE_MIN_MOVE_M, ALTERNATIVE_MIN_TURN_RAD = 0.15, 0.5  # what makes a base pose another one


def apart(xy_a: Sequence[float], yaw_a: float, xy_b: Sequence[float], yaw_b: float) -> bool:
    """Whether two base poses are two (as `base_poses` and a task's other poses tell them
    apart): ALTERNATIVE_MIN_MOVE_M apart in x-y, or turned ALTERNATIVE_MIN_TURN_RAD from each other."""
    turn = abs((yaw_a - yaw_b + np.pi) % (2 * np.pi) - np.pi)
    return float(np.hypot(xy_a[0] - xy_b[0], xy_a[1] - xy_b[1])) >= ALTERNATIVE_MIN_MOVE_M or turn >= ALTERNATIVE_MIN_TURN_RAD


def base_yaw(placement: RobotPlacement) -> float:
    """The placement's heading about the vertical (its quaternion is a yaw, `yaw_quat`)."""
    w, _, _, z = placement.base_orientation_wxyz
    return float(2 * np.arctan2(z, w))


def base_poses(spec: RobotSpec, points_m: np.ndarray, support: SceneObject | None, obstacles: Obstacles,
               floor_z_m: float, faces: Sequence[tuple[int, float]] | None = None,
               mount_z_m: float | None = None, standoff_m: float = CLEARANCE_M,
               min_distance_m: float = 0.0, count: int = 1) -> list[RobotPlacement]:
    """Up to `count` base poses that reach every point (arguments as `place_robot`), best first:
    along the support's sides, then (without `faces`) on rings round the points, each group by
    its worst shoulder distance; the first is the best of the first group that has any, and each
    further one stands ALTERNATIVE_MIN_MOVE_M from, or faces ALTERNATIVE_MIN_TURN_RAD away from,
    every one before it."""
    points = np.asarray(points_m, dtype=float).reshape(-1, 3)
    focus = points[:, :2].mean(axis=0)
    limit = spec.usable_reach_m
    groups = []
    if support is not None:
        groups.append(_side_candidates(support, spec.base_radius_m, focus, faces, standoff_m))
    if faces is None:
        groups.append(_ring_candidates(focus, spec.base_radius_m + 0.15, limit))
    found: list[tuple[np.ndarray, float]] = []
    for xy, yaw in groups:  # sides of the support first; rings only when no side works
        worst = _worst_distances(spec, xy, yaw, floor_z_m if mount_z_m is None else mount_z_m, points)
        ok = worst <= limit
        if min_distance_m > 0:
            near = np.linalg.norm(points[None, :, :2] - xy[:, None, :], axis=2).min(axis=1)
            ok &= near >= min_distance_m
        if not ok.any():
            continue
        ok[ok] = obstacles.discs_clear(xy[ok], spec.base_radius_m)
        for k in np.flatnonzero(ok)[np.argsort(worst[ok], kind="stable")]:
            if len(found) >= count:
                break
            if all(apart(xy[k], float(yaw[k]), f_xy, f_yaw) for f_xy, f_yaw in found):
                found.append((xy[k], float(yaw[k])))
    return [RobotPlacement(robot=spec.config.name, base_position_m=(round(float(xy[0]), 6), round(float(xy[1]), 6), floor_z_m),
                           base_orientation_wxyz=yaw_quat(yaw), reach_m=spec.config.reach_m)
            for xy, yaw in found]


def within_reach(spec: RobotSpec, placement: RobotPlacement, points_m: np.ndarray,
                 mount_z_m: float | None = None) -> float:
    """Worst shoulder distance / usable reach for the placement (<= 1 means all reachable);
    `mount_z_m` as in `place_robot`."""
    yaw = base_yaw(placement)
    base_z = placement.base_position_m[2] if mount_z_m is None else mount_z_m
    worst = _worst_distances(spec, np.asarray([placement.base_position_m[:2]]), np.array([yaw]),
                             base_z, np.asarray(points_m, dtype=float).reshape(-1, 3))
    return float(worst[0]) / spec.usable_reach_m


HANDLE_STANDOFF_M = 0.05  # drawer handle bar centre in front of the drawer's front face
HANDLE_MAX_HEIGHT_M = 1.0  # handles are grasped at most this far above the floor
MAX_FRONT_RECESS_M = 0.05  # a drawer box at most this far behind its carcass's front has its handle moved out


def drawer_pull(o: SceneObject, fraction: float, floor_z_m: float,
                objects: Sequence[SceneObject]) -> tuple[np.ndarray, np.ndarray, float]:
    """For a prismatic object at joint position 0: (handle point closed (3,), unit pull direction
    (3,), travel [m] to `fraction` of its range). The handle sits HANDLE_STANDOFF_M in front of the
    face the drawer moves towards, or of its carcass's face there when the drawer's box lies
    further in (`objects`: the scene's, for `scene.carcass.carcass_of`; a manifest's drawer box is
    often the drawer's body, a few cm behind the furniture's front: a handle 5 cm before it stood
    2 cm before the dresser's front, and the open fingers met it), at the object's centre height
    capped at 1 m above the floor."""
    art = o.articulation
    if art is None or art.type != "prismatic":
        raise ValueError(f"{o.id}: not a prismatic articulation")
    rot = matrix_np(o.orientation_wxyz)
    axis = rot @ (np.asarray(art.axis_local, dtype=float) / np.linalg.norm(art.axis_local))
    q0 = float(np.clip(0.0, art.lower, art.upper))
    travel = art.lower + fraction * (art.upper - art.lower) - q0
    pull = axis if travel >= 0 else -axis
    centre = np.asarray(o.position_m, dtype=float)
    face = front_along(o, pull) - float(centre @ pull)  # the drawer's face, from its centre
    carcass = carcass_of(o, objects)
    if carcass is not None:
        c_face = front_along(carcass, pull) - float(centre @ pull)
        face = max(face, min(c_face, face + MAX_FRONT_RECESS_M))
    handle = centre + (face + HANDLE_STANDOFF_M) * pull
    handle[2] = float(np.clip(o.position_m[2], o.aabb_min_m[2], floor_z_m + HANDLE_MAX_HEIGHT_M))
    return handle, pull, abs(travel)


def drawer_keepouts(o: SceneObject, pull: np.ndarray, travel_m: float, side_m: float,
                    front_m: float) -> list[Rect]:
    """Turned rectangles (`Rect`, as `Obstacles.with_rects` takes them) where a base must not
    stand to pull a drawer: (1) beside its travel, from its back face to the open front face,
    `side_m` beyond its sides (the arm would reach across the drawer's side and block it); (2)
    straight ahead of the open handle, `front_m` deep and as wide as the drawer (the hand would end
    folded against the base). What is left is diagonally ahead of the open drawer. The rectangles
    turn with the pull: as x-y bounding boxes, those of a cart turned 62 deg covered every base
    pose that reaches its drawer's handle."""
    p2, half_depth, half_width = _pull_frame(o, pull)
    s_open = half_depth + HANDLE_STANDOFF_M + travel_m
    s_front = s_open - HANDLE_STANDOFF_M  # the open drawer's front face
    return [_along(o, p2, -half_depth, s_front, half_width + side_m),
            _along(o, p2, s_front, s_open + front_m, half_width)]


def _pull_frame(o: SceneObject, pull: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The unit x-y pull direction (as a 3-vector) and the object's half extents along it and
    across it (of its turned box)."""
    rot = matrix_np(o.orientation_wxyz)
    ext = np.asarray(o.extents_m, dtype=float)
    p2 = np.array([pull[0], pull[1], 0.0]) / max(float(np.linalg.norm(pull[:2])), 1e-9)
    side = np.cross(p2, [0.0, 0.0, 1.0])
    return p2, 0.5 * float(np.abs(rot.T @ p2) @ ext), 0.5 * float(np.abs(rot.T @ side) @ ext)


def _along(o: SceneObject, p2: np.ndarray, s_lo: float, s_hi: float, half_width: float) -> Rect:
    """The rectangle from `s_lo` to `s_hi` along the unit x-y direction `p2` from the object's
    centre, `half_width` to each side of it."""
    centre = np.asarray(o.position_m[:2], dtype=float) + 0.5 * (s_lo + s_hi) * p2[:2]
    return (float(centre[0]), float(centre[1]), 0.5 * (s_hi - s_lo), float(half_width),
            float(np.arctan2(p2[1], p2[0])))


def swept_footprint(o: SceneObject, pull: np.ndarray, travel_m: float, margin_m: float) -> Rect:
    """The turned rectangle (`Rect`) covering the object and its handle over the whole travel
    along `pull`, grown by `margin_m`."""
    p2, half_depth, half_width = _pull_frame(o, pull)
    reach = half_depth + travel_m + HANDLE_STANDOFF_M + 0.02
    return _along(o, p2, -half_depth - margin_m, reach + margin_m, half_width + margin_m)
