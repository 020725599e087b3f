"""Hinged doors (revolute articulations): where the hinge, the front, the moving panel and the handle are.

A manifest gives a revolute joint's axis (in the object's frame) and its limits, but no hinge
position, no front and no handle. They are inferred here, once, and every consumer uses this
inference: the MuJoCo scene (joint position, panel, carcass, handle bar), task placement, the
planner and the camera.

- Hinge direction: the object's box axis closest to the joint axis. Of the two other box axes
  the thinner is the panel's normal and the wider its width.
- Panel or whole: a box at most PANEL_MAX_M thick along its normal is a door panel (a cabinet
  door given as its own object, inside its carcass's box). A thicker box is a whole appliance or
  cabinet on a joint (a fridge, a microwave): its front PANEL_M slab is the moving door and the
  rest is a fixed carcass. For a whole box, the front is the face with the most free room in
  front of it (up to CLEARANCE_PROBE_M; ties: the face towards the room's centre): a microwave
  on a counter opens towards the room, not towards the kettle beside it or the wall behind it.
- Front: the normal's sign that points away from the furniture box the door lies in (a panel
  inside its carcass), else towards the room (the floor's centre, else the centre of all objects).
- Opening direction: the sign of the limit farthest from the closed position (0 clipped to the
  limits).
- Hinge edge: the one of the two width edges about which that rotation swings the panel out
  through its front. The limits decide, never the manifest's `handle_side`, which has no agreed
  viewpoint (the example kitchen's "hinged on its left edge, handle right" is the cabinet's own
  left). The hinge line runs along the front face's edge, so the opening panel clears the carcass.
- Handle: a bar parallel to the hinge, HANDLE_STANDOFF_M in front of the front face and
  HANDLE_INSET_M in from the free edge, at the door's centre along the hinge, capped at
  HANDLE_MAX_HEIGHT_M (0.8 m) above the floor for vertical hinges: a tall door (a fridge's) is
  taken low on its long handle, where a table-top arm reaches it level; a door whose bottom is
  above the cap (a microwave standing on a 0.9 m counter) has its handle at its centre (before,
  the cap put the microwave's handle 10 cm under the microwave, and the counter "blocked" it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.rotations import axis_angle_matrix, matrix_np
from blueprint_pipeline.scene.carcass import carcass_of
from blueprint_pipeline.scene.floor import floor_footprint
from blueprint_pipeline.scene.records import SceneObject, SimRole

PANEL_MAX_M = 0.08  # a revolute box thinner than this along its normal is a door panel
PANEL_M = 0.04  # the door slab of a whole appliance or cabinet on a joint
HANDLE_STANDOFF_M = 0.05  # handle bar centre in front of the door's front face (as drawers)
HANDLE_INSET_M = 0.06  # handle bar centre in from the door's free edge
HANDLE_MAX_HEIGHT_M = 0.8  # a tall door's handle (a fridge's long bar) is taken at this height
VERTICAL_COS = 0.9  # a hinge axis within ~26 deg of vertical is vertical


@dataclass(frozen=True)
class Door:
    """One door in its object's frame (local, metres) and in the world.

    `axis_local` is the joint axis as the manifest gives it (unit); a positive joint angle turns
    about it. `sign` (+1 or -1) is the direction of opening in joint angle; `q_closed` the closed
    joint position and `q_open_max` the open limit."""

    object_id: str
    carcass_id: str | None  # the furniture box a door panel lies in
    axis_local: np.ndarray
    normal_local: np.ndarray  # the front, unit
    hinge_local: np.ndarray  # a point of the hinge line, at the handle's height
    handle_local: np.ndarray  # the handle bar's centre when closed
    panel_centre_local: np.ndarray
    panel_half_m: np.ndarray  # half extents of the moving panel along the object's box axes
    carcass_centre_local: np.ndarray | None  # the fixed rest of a whole box, None for a panel
    carcass_half_m: np.ndarray | None
    sign: float
    q_closed: float
    q_open_max: float
    position_m: np.ndarray
    rot: np.ndarray  # object -> world

    @property
    def whole(self) -> bool:
        return self.carcass_centre_local is not None

    def world(self, local: np.ndarray) -> np.ndarray:
        return self.position_m + self.rot @ np.asarray(local, dtype=float)

    @property
    def axis_m(self) -> np.ndarray:
        """The world hinge axis oriented so that a positive turn about it opens the door."""
        return self.sign * (self.rot @ self.axis_local)

    @property
    def hinge_m(self) -> np.ndarray:
        return self.world(self.hinge_local)

    @property
    def normal_m(self) -> np.ndarray:
        return self.rot @ self.normal_local

    @property
    def vertical(self) -> bool:
        return abs(float((self.rot @ self.axis_local)[2])) >= VERTICAL_COS

    def opened_by(self, angle_rad: float) -> np.ndarray:
        """World rotation of the door opened by `angle_rad` (>= 0 opens) from closed."""
        return axis_angle_matrix(self.axis_m, angle_rad)

    def point_at(self, local: np.ndarray, q: float) -> np.ndarray:
        """World position of a point fixed to the door (object frame, closed) at joint angle q."""
        hinge = self.hinge_m
        return hinge + self.opened_by(self.sign * (q - self.q_closed)) @ (self.world(local) - hinge)

    def handle_at(self, q: float) -> np.ndarray:
        return self.point_at(self.handle_local, q)

    def target_q(self, angle_rad: float) -> float:
        """The joint angle `angle_rad` open (capped at the open limit)."""
        return self.q_closed + self.sign * min(angle_rad, abs(self.q_open_max - self.q_closed))

    def swept_points(self, q: float, steps: int = 7) -> np.ndarray:
        """World points of the panel's front corners and the handle from closed to angle q: what
        the door and a hand on its handle sweep (for base placement and blockers)."""
        corners = [self.panel_centre_local + self.panel_half_m * np.array(s) for s in
                   [(a, b, c) for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]]
        pts = []
        for qq in np.linspace(self.q_closed, q, steps):
            pts += [self.point_at(c, qq) for c in corners]
            pts.append(self.point_at(self.handle_local, qq))
        return np.array(pts)


def _room_centre(objects: Sequence[SceneObject]) -> np.ndarray:
    fp = floor_footprint(objects)
    if fp is not None:
        return np.array([(fp[0] + fp[2]) / 2, (fp[1] + fp[3]) / 2, 0.0])
    pts = np.array([o.position_m for o in objects], dtype=float)
    return np.array([*pts[:, :2].mean(axis=0), 0.0])


CLEARANCE_PROBE_M = 1.0


def _clearance_m(o: SceneObject, normal: np.ndarray, objects: Sequence[SceneObject]) -> float:
    """Free distance in front of the face of `o` along the horizontal world `normal`, at the
    box's centre height: the first 5 cm step inside another object's box (or off the floor),
    at most CLEARANCE_PROBE_M."""
    centre = np.asarray(o.position_m, dtype=float)
    rot = matrix_np(o.orientation_wxyz)
    half = 0.5 * float(np.abs(rot.T @ normal) @ np.asarray(o.extents_m, dtype=float))
    fp = floor_footprint(objects)
    boxes = [b for b in objects if b.id != o.id and b.sim_role not in (SimRole.SCENE_SHELL, SimRole.BACKGROUND)]
    lo = np.array([b.aabb_min_m for b in boxes], dtype=float).reshape(-1, 3)
    hi = np.array([b.aabb_max_m for b in boxes], dtype=float).reshape(-1, 3)
    for s in np.arange(0.05, CLEARANCE_PROBE_M + 1e-9, 0.05):
        p = centre + (half + s) * normal
        if fp is not None and not (fp[0] <= p[0] <= fp[2] and fp[1] <= p[1] <= fp[3]):
            return float(s)
        if np.any(np.all((p >= lo) & (p <= hi), axis=1)):
            return float(s)
    return CLEARANCE_PROBE_M


def door(o: SceneObject, objects: Sequence[SceneObject], floor_z_m: float) -> Door:
    """The door of a revolute object (module docstring)."""
    art = o.articulation
    if art is None or art.type != "revolute":
        raise ValueError(f"{o.id}: not a revolute articulation")
    rot = matrix_np(o.orientation_wxyz)
    ext = np.asarray(o.extents_m, dtype=float)
    axis = np.asarray(art.axis_local, dtype=float)
    axis = axis / np.linalg.norm(axis)
    k_axis = int(np.argmax(np.abs(axis)))
    others = [k for k in range(3) if k != k_axis]
    centre = np.asarray(o.position_m, dtype=float)
    k_thin = min(others, key=lambda k: ext[k])
    carcass = carcass_of(o, objects)
    whole = ext[k_thin] > PANEL_MAX_M
    if whole:  # the normal: the face with the most free room in front of it
        faces = [(k, sg) for k in others for sg in (1.0, -1.0)]
        room = _room_centre(objects) - centre
        k_n, n_sign = max(faces, key=lambda f: (_clearance_m(o, f[1] * rot[:, f[0]], objects),
                                                 float(f[1] * rot[:, f[0]] @ room)))
    else:
        k_n = k_thin
        along = 0.0
        if carcass is not None:  # away from its carcass's centre
            along = float(rot[:, k_n] @ (centre - np.asarray(carcass.position_m, dtype=float)))
        if abs(along) < 1e-3:  # no carcass, or centred in it: towards the room
            along = float(rot[:, k_n] @ (_room_centre(objects) - centre))
        n_sign = 1.0 if along >= 0 else -1.0
    k_w = next(k for k in others if k != k_n)
    n = np.zeros(3)
    n[k_n] = n_sign
    w_axis = np.zeros(3)
    w_axis[k_w] = 1.0
    depth, width = float(ext[k_n]), float(ext[k_w])
    q_closed = float(np.clip(0.0, art.lower, art.upper))
    q_open = art.upper if (art.upper - q_closed) >= (q_closed - art.lower) else art.lower
    sign = 1.0 if q_open >= q_closed else -1.0
    # the free edge (at -h * width from the hinge) must move along +n when the door opens
    h = -float(np.sign(sign * float(np.cross(axis, w_axis) @ n)) or 1.0)
    axial = 0.0
    world_axis = rot @ axis
    if abs(float(world_axis[2])) >= VERTICAL_COS:  # the handle at the door's centre height, capped
        # a door whose bottom is above the cap (a microwave on a counter, a wall cabinet's) keeps
        # its handle on itself: np.clip with the cap below the bottom put it under the door
        low, cap = o.aabb_min_m[2] + 0.05, floor_z_m + HANDLE_MAX_HEIGHT_M
        z = float(centre[2]) if low >= cap else float(np.clip(centre[2], low, cap))
        axial = (z - centre[2]) / float(world_axis[2])
    hinge = h * 0.5 * width * w_axis + 0.5 * depth * n + axial * axis
    handle = (-h * (0.5 * width - HANDLE_INSET_M)) * w_axis + (0.5 * depth + HANDLE_STANDOFF_M) * n + axial * axis
    if whole:
        thick = min(PANEL_M, 0.5 * depth)
        panel_c = (0.5 * depth - 0.5 * thick) * n
        panel_half = 0.5 * ext.copy()
        panel_half[k_n] = 0.5 * thick
        carcass_c = -0.5 * thick * n
        carcass_half = 0.5 * ext.copy()
        carcass_half[k_n] = 0.5 * (depth - thick)
    else:
        panel_c, panel_half, carcass_c, carcass_half = np.zeros(3), 0.5 * ext.copy(), None, None
    return Door(object_id=o.id, carcass_id=carcass.id if carcass is not None else None, axis_local=axis, normal_local=n, hinge_local=hinge,
                handle_local=handle, panel_centre_local=panel_c, panel_half_m=panel_half,
                carcass_centre_local=carcass_c, carcass_half_m=carcass_half, sign=sign, q_closed=q_closed,
                q_open_max=float(q_open), position_m=centre, rot=rot)


SWING_STEP_RAD = np.deg2rad(5.0)


def swing_room(d: Door, objects: Sequence[SceneObject], max_angle_rad: float) -> tuple[float, str | None]:
    """How far the door can open (up to `max_angle_rad`) before its panel or a hand on its handle
    would enter another object's box (1 cm slack), and that object's id (None: nothing in the
    way). Its carcass and room shells are not obstacles."""
    boxes = [(o.id, np.asarray(o.aabb_min_m) + 0.01, np.asarray(o.aabb_max_m) - 0.01) for o in objects
             if o.id not in (d.object_id, d.carcass_id)
             and o.sim_role not in (SimRole.SCENE_SHELL, SimRole.BACKGROUND)]
    grid = [d.panel_centre_local + d.panel_half_m * np.array(s) * 0.999
            for s in np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).reshape(3, -1).T]
    grid.append(d.handle_local)
    angle = 0.0
    while angle < max_angle_rad - 1e-9:
        nxt = min(angle + SWING_STEP_RAD, max_angle_rad)
        pts = np.array([d.point_at(p, d.q_closed + d.sign * nxt) for p in grid])
        for oid, lo, hi in boxes:
            if np.any(np.all((pts >= lo) & (pts <= hi), axis=1)):
                return angle, oid
        angle = nxt
    return max_angle_rad, None


def swept_rects(d: Door, q: float, margin_m: float, step_rad: float = np.deg2rad(7.5)) -> list[tuple[float, ...]]:
    """x-y footprints of what the door and a hand on its handle sweep from closed to q: the
    panel, from its hinge to HANDLE_STANDOFF_M in front of its free edge, as a turned rectangle
    (centre x, centre y, half length, half width, yaw; see placement.Obstacles.with_rects) every
    `step_rad`, grown by `margin_m` (for a vertical hinge; another hinge sweeps its x-y box)."""
    pts = d.swept_points(q)
    if not d.vertical:
        lo, hi = pts[:, :2].min(axis=0) - margin_m, pts[:, :2].max(axis=0) + margin_m
        return [((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2, 0.0)]
    hinge = d.hinge_m
    reach = d.handle_local - d.hinge_local  # hinge -> handle, in the object's frame
    tip_local = d.hinge_local + reach + 0.5 * HANDLE_STANDOFF_M * d.normal_local
    out = []
    n = max(1, int(np.ceil(abs(q - d.q_closed) / step_rad)))
    for qq in np.linspace(d.q_closed, q, n + 1):
        tip = d.point_at(tip_local, qq)
        v = (tip - hinge)[:2]
        length = float(np.linalg.norm(v))
        yaw = float(np.arctan2(v[1], v[0]))
        centre = hinge[:2] + 0.5 * v
        out.append((float(centre[0]), float(centre[1]), 0.5 * length + margin_m,
                    HANDLE_STANDOFF_M + margin_m, yaw))
    return out
