"""Grasp candidates from an object's collider: top-down and side antipodal grasps that fit the gripper.

A grasp is a TCP pose whose finger axis (the hand's y) is along a horizontal object axis narrower
than the stroke minus a 1 cm margin. A box offers its two horizontal axes; a round object (an
upright cylinder, a sphere or a capsule: a circular cross-section) offers any direction, sampled
every 180/`ROUND_YAWS` degrees, so that fingers can go between touching neighbours (fruit in a
bowl, a can in a row). Top-down grasps approach along -z with the pads 2.5 cm below the
top (half way down short objects, and never so deep that the pad tips reach the surface under a
flat one), also tilted by +-30 deg; side grasps approach from the
robot's side, level or pitched down by 25 or 45 deg (`SIDE_PITCHES_RAD`; the forearm then clears
a shelf's board), with the pads in the upper half of a tall object. Candidates are ranked by (1)
reachability, checked with IK for the grasp and pre-grasp poses, then (2) clearance between the
open fingers and the neighbouring objects, then (3) a preference for top-down, then tilted, then
side grasps (a side approach sweeps the hand low through the neighbours). The episode then checks
each reachable candidate, and its whole plan, with the whole arm in the scene (sim/scene_check.py
SceneCheck) and takes the first that passes.

The hand opens fully for a grasp (the most forgiving of an object that settled a little off its
manifest pose). When the open fingers would meet a neighbour (a book in a row, a can between
cans, something next to a shelf's side), the same candidate is tried pre-shaped (`preshaped`): the
fingers opened only to the object's width plus PRESHAPE_ROOM_M a side, as a real pick in clutter
commands the jaw. The plan then holds that opening for the approach and after the release.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from blueprint_pipeline.robots.description import GRIP_FIT_MARGIN_M, RIM_ROOM_M
from blueprint_pipeline.simready.antipodal import from_the_side
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.sim.trajectory import Pose

FIT_MARGIN_M = GRIP_FIT_MARGIN_M
PRE_GRASP_DISTANCE_M = 0.12
TILTS_RAD = (np.deg2rad(30.0), -np.deg2rad(30.0))
ROUND_YAWS = 8  # finger directions sampled over 180 deg for round objects
SIDE_PITCHES_RAD = (0.0, np.deg2rad(25.0), np.deg2rad(45.0))  # side approaches: level, then pitched down
SIDE_MIN_HEIGHT_M = 0.035
TIP_CLEARANCE_M = 0.003
SIDE_GRIP_DEPTH_M = 0.02  # side grasps of long objects: pads this far past the near end
SIDE_MIN_OVERLAP_M = 0.005  # a side grasp's pads reach at least this far below the object's top
PRESHAPE_ROOM_M = 0.015  # a pre-shaped hand opens this much wider than the object on each side
KINDS = ("top", "tilted", "side", "rim", "antipodal")  # the ranking's order among equal clearances


@dataclass
class GraspCandidate:
    kind: str  # "top" | "side" | "tilted" (top-down leaning 30 deg about the finger axis) | "rim" | "antipodal"
    tcp: Pose
    approach: np.ndarray  # unit vector the TCP travels along when closing in
    width_m: float
    clearance_m: float = np.inf
    reachable: bool = False
    q_grasp: np.ndarray | None = None
    q_pre: np.ndarray | None = None
    headroom_m: float = 0.0  # how far the hand rises above the TCP at the grasp (set by the scene check)
    open_m: float | None = None  # per-finger opening while approaching and after release (None: full stroke)

    @property
    def needs_collision_avoidance(self) -> bool:
        return self.kind != "top"

    @property
    def pre_grasp(self) -> Pose:
        return self.tcp.moved(-PRE_GRASP_DISTANCE_M * self.approach)

    def preshaped(self, stroke_per_finger_m: float) -> GraspCandidate | None:
        """The same grasp with the fingers opened only to the object's width plus PRESHAPE_ROOM_M
        a side, or None when that is no narrower than the full stroke."""
        open_m = 0.5 * self.width_m + PRESHAPE_ROOM_M
        if open_m >= stroke_per_finger_m - 1e-4:
            return None
        return replace(self, open_m=open_m, reachable=False, q_pre=None, q_grasp=None, headroom_m=0.0)

    def open_command(self, stroke_per_finger_m: float) -> float:
        """The gripper command (fraction of the stroke closed) that holds this candidate's opening."""
        return 0.0 if self.open_m is None else 1.0 - self.open_m / stroke_per_finger_m


def _hand_rotation(approach: np.ndarray, finger_axis: np.ndarray) -> np.ndarray:
    z = approach / np.linalg.norm(approach)
    y = finger_axis - z * np.dot(finger_axis, z)
    y /= np.linalg.norm(y)
    (y0, y1, y2), (z0, z1, z2) = y.tolist(), z.tolist()
    # y x z written out (np.cross's own products and differences, without its set-up: the
    # candidates of a meshed object's rim and surface pairs call this hundreds of times)
    return np.array([[y1 * z2 - y2 * z1, y0, z0], [y2 * z0 - y0 * z2, y1, z1], [y0 * z1 - y1 * z0, y2, z2]])


def _finger_clearances(tcps: list[Pose], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per TCP pose, the smallest xy/z gap between the open fingers' pads (as points) and the
    obstacles' boxes (their corners `lo`, `hi`: (n, 3)), less 1 cm; +inf without obstacles. All
    poses at once: each number is the one a pose alone gives, bit for bit (the same elementwise
    operations, and the same sum over the three axes)."""
    if not len(lo) or not tcps:
        return np.full(len(tcps), np.inf)
    pos = np.array([t.pos_m for t in tcps])  # (c, 3)
    finger = (0.04 + 0.008) * np.array([t.rot[:, 1] for t in tcps])  # (c, 3)
    pads = pos[:, None, :] + np.array([1.0, -1.0])[None, :, None] * finger[:, None, :]  # (c, 2, 3)
    gap = np.maximum(np.maximum(lo[None, None] - pads[:, :, None], pads[:, :, None] - hi[None, None]), 0.0)
    squared = np.einsum("cpnk,cpnk->cpn", gap, gap).reshape(len(tcps), -1)  # (c, 2 n)
    return np.sqrt(np.min(squared, axis=1)) - 0.01


def _finger_axes(obj_rot: np.ndarray, size_m: np.ndarray, stroke_m: float, round_xy: bool) -> list[tuple[np.ndarray, float]]:
    """Horizontal finger directions and the width they close on: a box's two horizontal axes, or
    `ROUND_YAWS` directions across a round object's diameter."""
    if round_xy:
        width = float(min(size_m[0], size_m[1]))
        if width > stroke_m - FIT_MARGIN_M:
            return []
        x = obj_rot[:, 0].copy()
        x[2] = 0.0
        if np.linalg.norm(x) < 0.5:
            x = np.array([1.0, 0.0, 0.0])
        x /= np.linalg.norm(x)
        y = np.cross([0.0, 0.0, 1.0], x)
        return [(np.cos(a) * x + np.sin(a) * y, width) for a in np.arange(ROUND_YAWS) * np.pi / ROUND_YAWS]
    out = []
    for k in (0, 1):
        if size_m[k] > stroke_m - FIT_MARGIN_M:
            continue
        axis = obj_rot[:, k].copy()
        axis[2] = 0.0
        if np.linalg.norm(axis) < 0.5:
            continue
        out.append((axis / np.linalg.norm(axis), float(size_m[k])))
    return out


def grasp_candidates(obj_pos_m: np.ndarray, obj_rot: np.ndarray, size_m: np.ndarray, stroke_m: float,
                     base_pos_m: np.ndarray, home_hand_y: np.ndarray, round_xy: bool = False,
                     pad_reach_m: float = 0.019, pad_half_height_m: float = 0.009,
                     front_m: np.ndarray | None = None) -> list[GraspCandidate]:
    """Top-down and side grasps of an upright-ish box/cylinder of full extents `size_m`
    (`round_xy`: its horizontal cross-section is a circle of diameter min(size x, size y);
    `pad_reach_m`: how far the pads reach past the TCP along the approach: a top grasp of a flat
    object keeps the pad tips TIP_CLEARANCE_M above what it stands on; `pad_half_height_m`: the
    pads' half extent across the approach and the finger axis). A side grasp whose pads would not
    reach SIDE_MIN_OVERLAP_M below the object's top is left out: the TCP stays SIDE_MIN_HEIGHT_M
    above the object's bottom, so level pads close above a 1.4 cm pen (the planner chose them
    when a neighbour refused the top grasp, and the pen was never held: grasp_slip).
    `front_m`: the outward normal of the open front of the furniture a round object stands in
    (a can in a row on a shelf): the first finger axis is then along the front, so that its side
    grasp comes straight in, square to the row. The sampled directions are the object's own yaw's;
    22.5 deg off square, a UR10's 18 cm wide hand met the next can 12 cm away."""
    out: list[GraspCandidate] = []
    top_z = obj_pos_m[2] + 0.5 * abs(obj_rot[2, :]) @ size_m
    height = 2 * (top_z - obj_pos_m[2])
    axes = _finger_axes(obj_rot, size_m, stroke_m, round_xy)
    if round_xy and axes and front_m is not None:
        axes = [(np.cross([0.0, 0.0, 1.0], front_m), axes[0][1])] + axes
    for axis, width in axes:
        if np.dot(axis, home_hand_y) < 0:  # of the two symmetric yaws, the one nearer the home wrist
            axis = -axis
        depth = min(0.025, 0.5 * height, height - pad_reach_m - TIP_CLEARANCE_M)  # may be < 0: TCP above the top
        tcp = Pose(np.array([obj_pos_m[0], obj_pos_m[1], top_z - depth]),
                   _hand_rotation(np.array([0.0, 0.0, -1.0]), axis))
        out.append(GraspCandidate("top", tcp, np.array([0.0, 0.0, -1.0]), width))
        # tilted top grasps (about the finger axis, pads stay parallel to the gripped faces): near
        # the base, leaning the hand back towards the robot keeps the elbow from folding to its limit
        for tilt in TILTS_RAD:
            c, s_ = np.cos(tilt), np.sin(tilt)
            perp = np.cross(axis, [0.0, 0.0, 1.0])
            tilted = np.array([0.0, 0.0, -c]) + s_ * perp
            tcp_t = Pose(tcp.pos_m.copy(), _hand_rotation(tilted, axis))
            out.append(GraspCandidate("tilted", tcp_t, tilted, width))
        # side grasps: approach horizontally, perpendicular to the finger axis, and pitched down
        # (the forearm then passes above a shelf's board instead of along it); pads in the upper
        # half of a tall object, at least SIDE_MIN_HEIGHT_M above its bottom
        approach = np.cross(axis, [0.0, 0.0, 1.0])
        if np.dot(approach, obj_pos_m - base_pos_m) < 0:
            approach = -approach
        bottom_z = top_z - height
        z = max(bottom_z + SIDE_MIN_HEIGHT_M, min(obj_pos_m[2] + 0.25 * height, top_z - 0.02))
        # a long object (a book on a shelf) is taken by its near end, so that the hand stays
        # outside its row of neighbours; a round one across its middle
        half_along = 0.5 * float(np.abs(obj_rot[:2, :2].T @ approach[:2]) @ size_m[:2])
        inset = 0.0 if round_xy else max(0.0, half_along - SIDE_GRIP_DEPTH_M)
        xy = obj_pos_m[:2] - inset * approach[:2]
        for pitch in SIDE_PITCHES_RAD:
            if z - pad_half_height_m * np.cos(pitch) - pad_reach_m * np.sin(pitch) > top_z - SIDE_MIN_OVERLAP_M:
                continue  # the pads' lowest point above the object's top, or all but
            a = np.cos(pitch) * approach + np.array([0.0, 0.0, -np.sin(pitch)])
            tcp_side = Pose(np.array([xy[0], xy[1], z]), _hand_rotation(a, axis))
            out.append(GraspCandidate("side", tcp_side, a, width))
    return out


def rim_candidates(obj_pos_m: np.ndarray, obj_rot: np.ndarray, rim, stroke_m: float,
                   base_pos_m: np.ndarray) -> list[GraspCandidate]:
    """Top-down grasps of an open-top hollow object's wall (`rim`: simready's RimRecord, object
    frame): at each clear direction around the rim, the TCP over the wall's middle at its grip
    depth, the finger axis radial (one finger inside, one outside), the fingers opened to the
    wall plus RIM_ROOM_M a side, the hand leaned by the wall's lean (`rim.lean_rad`: the
    fingertips towards the centre, about the rim's tangent) so that the pads lie along it.
    Nearest the robot first (the hand reaches over less)."""
    open_m = 0.5 * rim.wall_m + RIM_ROOM_M
    if 2 * open_m > stroke_m:
        return []
    out = []
    for a in rim.angles_rad:
        local = np.array([rim.centre_m[0] + rim.radius_m * np.cos(a), rim.centre_m[1] + rim.radius_m * np.sin(a),
                          rim.top_z_m - rim.grip_depth_m])
        radial = obj_rot @ np.array([np.cos(a), np.sin(a), 0.0])
        radial[2] = 0.0
        if np.linalg.norm(radial) < 0.5:  # the object lies on its side: no rim from above
            return []
        radial /= np.linalg.norm(radial)
        up, lean = np.array([0.0, 0.0, 1.0]), rim.lean_rad
        approach = -np.cos(lean) * up - np.sin(lean) * radial
        tcp = Pose(obj_pos_m + obj_rot @ local, _hand_rotation(approach, np.cos(lean) * radial - np.sin(lean) * up))
        out.append(GraspCandidate("rim", tcp, approach, rim.wall_m, open_m=open_m))
    return sorted(out, key=lambda c: float(np.linalg.norm(c.tcp.pos_m[:2] - base_pos_m[:2])))


def antipodal_candidates(obj_pos_m: np.ndarray, obj_rot: np.ndarray, grasps, stroke_m: float,
                         base_pos_m: np.ndarray) -> list[GraspCandidate]:
    """A mesh's antipodal grasps (simready/antipodal.py; object frame) as candidates: the pads
    closing along the grasp's axis on either side of its centre, opened to its width plus
    PRESHAPE_ROOM_M a side; the hand coming in from as nearly above as the axis allows (an axis
    within 25 deg of vertical: level, from the robot's side), and also level from the robot's
    side. Those wider than the stroke less FIT_MARGIN_M are left out."""
    out = []
    down = np.array([0.0, 0.0, -1.0])
    for g in grasps:
        if g.width_m > stroke_m - FIT_MARGIN_M:
            continue
        axis = obj_rot @ np.asarray(g.axis, dtype=float)
        centre = obj_pos_m + obj_rot @ np.asarray(g.centre_m, dtype=float)
        approaches = []
        if from_the_side(axis):
            from_above = down - np.dot(down, axis) * axis
            approaches.append(from_above / np.linalg.norm(from_above))
        level = centre - base_pos_m
        level[2] = 0.0
        level -= np.dot(level, axis) * axis
        level[2] = 0.0
        if np.linalg.norm(level) > 1e-3:
            approaches.append(level / np.linalg.norm(level))
        open_m = 0.5 * g.width_m + PRESHAPE_ROOM_M
        for a in approaches:
            if abs(np.dot(a, axis)) > 0.1:  # not across the axis (levelled from a tilted one)
                continue
            out.append(GraspCandidate("antipodal", Pose(centre, _hand_rotation(a, axis)), a, g.width_m,
                                      open_m=min(open_m, 0.5 * stroke_m)))
    return out


def rank_grasps(candidates: list[GraspCandidate], ik: ArmIK, seed_q: np.ndarray,
                obstacles: list[tuple[np.ndarray, np.ndarray]]) -> list[GraspCandidate]:
    """Candidates by clearance and kind; reachability (IK of pre-grasp and grasp) is checked
    lazily by `check_reachable`, in this order, so most episodes solve IK for one candidate only."""
    lo, hi = np.array([o[0] for o in obstacles]).reshape(-1, 3), np.array([o[1] for o in obstacles]).reshape(-1, 3)
    for c, clearance in zip(candidates, _finger_clearances([c.tcp for c in candidates], lo, hi).tolist(), strict=True):
        c.clearance_m = clearance
    # antipodal grasps last, whatever their clearance: the fallback for shapes the box and the rim
    # do not describe
    return sorted(candidates, key=lambda c: (c.kind == "antipodal", -min(c.clearance_m, 0.02), KINDS.index(c.kind)))


def check_reachable(c: GraspCandidate, ik: ArmIK, seed_q: np.ndarray) -> bool:
    avoid = c.needs_collision_avoidance
    with ik.fingers_open(c.open_m):
        pre = ik.solve_from_start(c.pre_grasp.pos_m, c.pre_grasp.rot, seed_q, avoid_obstacles=avoid)
        if pre.ok():
            grasp = ik.solve(c.tcp.pos_m, c.tcp.rot, pre.q_rad, avoid_obstacles=avoid)
            if grasp.ok():
                c.reachable, c.q_pre, c.q_grasp = True, pre.q_rad, grasp.q_rad
    return c.reachable


BRANCH_DISTINCT_RAD = 0.3  # two postures are the same branch unless some joint differs by more


def branch_variant(c: GraspCandidate, ik: ArmIK, seed_q: np.ndarray, near_q: np.ndarray,
                   postures: list[np.ndarray]) -> GraspCandidate | None:
    """`c` with its pre-grasp and grasp solved from `seed_q` (one of the arm's branch seeds), its
    joints a whole turn nearer `near_q` (where the approach starts) where the limits allow; None
    when that misses or lands on a posture already in `postures` (which it then joins)."""
    avoid = c.needs_collision_avoidance
    with ik.fingers_open(c.open_m):
        pre = ik.solve(c.pre_grasp.pos_m, c.pre_grasp.rot, seed_q, avoid_obstacles=avoid)
        q_pre = ik.nearest_turn(pre.q_rad, near_q)
        if not pre.ok() or any(np.max(np.abs(q_pre - p)) < BRANCH_DISTINCT_RAD for p in postures):
            return None
        postures.append(q_pre)
        grasp = ik.solve(c.tcp.pos_m, c.tcp.rot, q_pre, avoid_obstacles=avoid)
    if not grasp.ok():
        return None
    return replace(c, reachable=True, q_pre=q_pre, q_grasp=grasp.q_rad)
