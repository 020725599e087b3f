"""push tasks: slide a free object the gripper cannot hold (a tray, a closed laptop, a wide book or
box) across its support to a goal region, the open fingers against one of its faces; and push a
thing standing in open furniture further back on its shelf (`shelf_push_goal`, end of module).

Which objects: free, standing on a piece of furniture (not inside open furniture: the board above
leaves the hand no room to come down behind it, and not on another free object), too wide for
the gripper (tasks.pick_skip_reason), at most PUSH_MAX_MASS_KG, low and broad enough to slide
rather than tip when pushed low on a face, with nothing standing on it. The fingers push with their
pads' sides, the pads' lower ends PUSH_PAD_LIFT_M above the support (robots' pads are 3.8 cm tall,
so the contact spans from there to the object's top or the pads' tops): an object needs
PUSH_MIN_HEIGHT_M of face, at most PUSH_MAX_HEIGHT_M of height (the palm passes above it), and it slides rather than tips while friction x the height of the
contact's centre, with a safety factor, stays below half its narrowest side
(PUSH_TIP_SAFETY x PUSH_FRICTION x z_contact <= narrowest / 2; a tall glass pushed low slides).

Goal: its footprint moved PUSH_DISTANCE_M along one of its own horizontal axes. The four
directions are tried in turn (away from the robot's likely side first is not assumed: the first
that works): the swept footprint, plus PUSH_HAND_ROOM_M behind the pushed face for the hand, must
lie on the support's top (PUSH_EDGE_PAD_M inside its edges) and keep clear of everything standing
on it by as far as the episode's drawn start can move its edges (PUSH_JITTER_M, PUSH_YAW_RAD), and
nothing beside the path may rise into the palm's sweep (PALM_WIDTH_M wide, from PALM_ABOVE_M up); then a
robot base pose must reach the start, the goal and the hand's spot (tasks._placements). The goal
region is a PUSH_TOLERANCE_M x 2 square centred on where its centre should end: the episode is a
success when the centre ends in it, the object upright, at rest, still on the support
(judge.judge_push).
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.geniesim.geometry import box_overlap_m
from blueprint_pipeline.geniesim.records import GoalRegion, TaskSpec
from blueprint_pipeline.robots.description import FRANKA, UR10
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.records import SceneObject

PUSH_DISTANCE_M = 0.15
# an episode draws the target's start within +- PUSH_JITTER_M and +- PUSH_YAW_RAD of the manifest's
# (sim/families/push.py); the swept path keeps clear of the neighbours by as much as that can move
# its footprint's edges (the offset, plus half its longer side turned by the yaw), plus PUSH_CLEAR_M
PUSH_JITTER_M = 0.03
PUSH_YAW_RAD = float(np.deg2rad(10.0))
PUSH_CLEAR_M = 0.01
PUSH_TOLERANCE_M = 0.04  # the centre ends within +- this of the goal point (x and y)
PUSH_HAND_ROOM_M = 0.06  # free room behind the pushed face for the fingers to come down
PUSH_MAX_MASS_KG = 3.0
PUSH_MIN_HEIGHT_M = 0.01  # the fingers' sides need this much face to bear on
PUSH_MAX_HEIGHT_M = 0.06  # taller, and the palm (PALM_ABOVE_M up) meets the object before the pads do
PUSH_PAD_LIFT_M = 0.005  # the pads' lower ends keep this far above the support while pushing
PAD_HEIGHT_M = 2 * FRANKA.gripper.pad_half_size_m[2]  # the pads' height (the UR's are modelled the same)
PUSH_FRICTION = 0.8  # the object's friction on its support assumed when judging tipping (upper range)
PUSH_TIP_SAFETY = 1.5
assert UR10.gripper.pad_half_size_m == FRANKA.gripper.pad_half_size_m, "push rules assume one pad size"
PUSH_EDGE_PAD_M = 0.03  # the swept footprint keeps this far inside the support's top
# the hand's palm (the Franka Hand: 20 cm across the fingers) passes this high above the support
# while pushing: what stands taller beside the path meets it
PALM_ABOVE_M, PALM_WIDTH_M = 0.065, 0.22


def too_heavy_to_push(mass_kg: float | None) -> str | None:
    """Why an object of `mass_kg` (None: unknown) is not pushed, or None."""
    if mass_kg is None or mass_kg > PUSH_MAX_MASS_KG:
        return f"too heavy to push ({mass_kg} kg; at most {PUSH_MAX_MASS_KG:g} kg)"
    return None


def push_skip_reason(o: SceneObject, mass_kg: float | None, carried: bool) -> str | None:
    """Why the object is not pushed whatever its surroundings (None: it may be); `carried`:
    something stands on it."""
    h = float(o.extents_m[2])
    narrow = float(min(o.extents_m[0], o.extents_m[1]))
    if (heavy := too_heavy_to_push(mass_kg)) is not None:
        return heavy
    if h > PUSH_MAX_HEIGHT_M:
        return (f"too tall to push with the fingers ({100 * h:.0f} cm; the hand's palm passes "
                f"{100 * PALM_ABOVE_M:.1f} cm above the support and would bear on it high up)")
    if h < PUSH_MIN_HEIGHT_M:
        return f"too thin to push by a face ({100 * h:.1f} cm; at least {100 * PUSH_MIN_HEIGHT_M:.1f} cm)"
    z_contact = (PUSH_PAD_LIFT_M + min(h, PUSH_PAD_LIFT_M + PAD_HEIGHT_M)) / 2
    if PUSH_TIP_SAFETY * PUSH_FRICTION * z_contact > narrow / 2:
        return f"too narrow to push without tipping ({100 * narrow:.1f} cm at its narrowest)"
    if carried:
        return "things stand on it"
    return None


def push_goals(target: SceneObject, support: SceneObject, occupants: list[SceneObject]) -> list[tuple[GoalRegion, np.ndarray]]:
    """(goal region, push direction) for each of the target's four face directions whose swept
    footprint lies on the support's top and meets nothing on it, in a fixed order (+x, -x, +y, -y
    of the target's own frame)."""
    rot = matrix_np(target.orientation_wxyz)
    ext = np.asarray(target.extents_m, dtype=float)
    pos = np.asarray(target.position_m, dtype=float)
    sup_rot = matrix_np(support.orientation_wxyz)
    sup_half = 0.5 * np.asarray(support.extents_m[:2], dtype=float) - PUSH_EDGE_PAD_M
    surface_z = float(support.aabb_max_m[2])
    out = []
    for axis, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        u = sign * rot[:, axis]
        u = np.array([u[0], u[1], 0.0]) / max(float(np.linalg.norm(u[:2])), 1e-9)
        # the swept box: from the hand's room behind the face to the face at the goal
        behind, ahead = ext[axis] / 2 + PUSH_HAND_ROOM_M, ext[axis] / 2 + PUSH_DISTANCE_M
        centre = pos + u * (ahead - behind) / 2
        size = ext.copy()
        size[axis] = behind + ahead
        corners = np.array([[sx * size[0] / 2, sy * size[1] / 2, 0.0] for sx in (-1, 1) for sy in (-1, 1)])
        local = (corners @ rot.T + centre - np.asarray(support.position_m)) @ sup_rot
        if np.any(np.abs(local[:, :2]) > sup_half):
            continue
        # the neighbours are kept clear of where the episode's drawn start may put the footprint
        size[:2] += 2 * (PUSH_JITTER_M + 0.5 * float(max(ext[:2])) * np.sin(PUSH_YAW_RAD) + PUSH_CLEAR_M)
        palm = size.copy()
        palm[1 - axis], palm[2] = max(size[1 - axis], PALM_WIDTH_M), 1.0
        palm_centre = np.array([centre[0], centre[1], surface_z + PALM_ABOVE_M + 0.5])
        if any(box_overlap_m(centre, rot, size, o.position_m, matrix_np(o.orientation_wxyz), o.extents_m) > 0.0
               or box_overlap_m(palm_centre, rot, palm, o.position_m, matrix_np(o.orientation_wxyz), o.extents_m) > 0.0
               for o in occupants if o.id != target.id):
            continue
        goal = pos + PUSH_DISTANCE_M * u
        out.append((GoalRegion(support_object_id=support.id, center_m=(float(goal[0]), float(goal[1]), surface_z),
                               size_m=(2 * PUSH_TOLERANCE_M, 2 * PUSH_TOLERANCE_M), surface_z_m=surface_z), u))
    return out


def push_task(target: SceneObject, goal: GoalRegion, support: SceneObject, placements: dict) -> TaskSpec:
    return TaskSpec(task_id=f"push_{target.id}", type="push",
                    description=f"push the {target.name} across the {support.name}",
                    target_object_id=target.id, goal=goal, difficulty="medium", priority=0,
                    robot_placements=placements)


# Pushing into open furniture: a thing on a shelf (a book in its row, a can among cans) pushed
# towards the back, the fingertips on its front face (sim/families/push.py, `plan_shelf_push`).
# The hand comes in level under the board above, so this needs no room above or beside the object
# beyond its own slot, which a grasp does (the Franka Hand is 20 cm across its fingers).
SHELF_PUSH_MAX_M = 0.06  # at most this far in: the fingers reach about 5 cm ahead of the palm
SHELF_PUSH_MIN_M = 0.02
SHELF_PUSH_STEP_M = 0.005
SHELF_BACK_GAP_M = 0.005  # the far face stops this far from the back panel (which stops it) or what stands behind
# the centre ends within +- this of the goal point (x and y), and within half the push of it: an
# object left where it stood never counts
SHELF_PUSH_TOLERANCE_M = 0.015
# an episode draws the target's start within +- these (the row's neighbours stand close)
SHELF_PUSH_JITTER_M = 0.01
SHELF_PUSH_YAW_RAD = float(np.deg2rad(5.0))


def shelf_push_goal(target: SceneObject, support: SceneObject, front_world: np.ndarray, back_inner_m: float,
                    surface_z: float, occupants: list[SceneObject]) -> tuple[GoalRegion, np.ndarray] | str:
    """(goal region, push direction) of pushing `target` into open furniture, or why not: straight
    towards the back (against `front_world`, the unit normal of its open front), as far as
    SHELF_PUSH_MAX_M and at least SHELF_PUSH_MIN_M, its far face stopping SHELF_BACK_GAP_M short of
    the back panel (`back_inner_m`: the panel's inner face, measured along `front_world` from the
    furniture's centre) and of anything standing behind it on the same level (`occupants`), by as
    far as the episode's drawn start can move its edges."""
    u = -np.array([front_world[0], front_world[1], 0.0]) / max(float(np.linalg.norm(front_world[:2])), 1e-9)
    across = np.cross([0.0, 0.0, 1.0], u)
    rot = matrix_np(target.orientation_wxyz)
    ext = np.asarray(target.extents_m, dtype=float)
    pos = np.asarray(target.position_m, dtype=float)
    along = float(np.abs(rot.T @ u) @ ext)  # its footprint's length along the push
    wide = float(np.abs(rot.T @ across) @ ext)
    far_face = float((pos - np.asarray(support.position_m)) @ -u) - along / 2  # along the front normal
    room = far_face - back_inner_m - SHELF_BACK_GAP_M
    frame = np.column_stack([u, across, [0.0, 0.0, 1.0]])
    margin = SHELF_PUSH_JITTER_M + 0.5 * along * np.sin(SHELF_PUSH_YAW_RAD)
    for d in np.arange(min(SHELF_PUSH_MAX_M, room), SHELF_PUSH_MIN_M - 1e-9, -SHELF_PUSH_STEP_M):
        ahead = d + SHELF_BACK_GAP_M + margin  # what its far face sweeps (its neighbours beside it stay)
        centre = pos + u * ((along + ahead) / 2)
        size = np.array([ahead, wide + 2 * margin, ext[2]])
        if any(box_overlap_m(centre, frame, size, o.position_m, matrix_np(o.orientation_wxyz), o.extents_m) > 0.0
               for o in occupants if o.id != target.id):
            continue
        goal = pos + d * u
        tol = min(SHELF_PUSH_TOLERANCE_M, d / 2)
        return (GoalRegion(support_object_id=support.id, center_m=(float(goal[0]), float(goal[1]), surface_z),
                           size_m=(2 * tol, 2 * tol), surface_z_m=surface_z), u)
    if room < SHELF_PUSH_MIN_M:
        return (f"no room behind it: {100 * max(room + SHELF_BACK_GAP_M, 0.0):.1f} cm to the back of the "
                f"{support.name} (at least {100 * (SHELF_PUSH_MIN_M + SHELF_BACK_GAP_M):.1f} cm)")
    return f"something stands behind it within {100 * SHELF_PUSH_MIN_M:.0f} cm"


def shelf_push_task(target: SceneObject, goal: GoalRegion, support: SceneObject, placements: dict) -> TaskSpec:
    return TaskSpec(task_id=f"push_in_{target.id}", type="push",
                    description=f"push the {target.name} further back on its shelf of the {support.name}",
                    target_object_id=target.id, goal=goal, difficulty="medium", priority=0,
                    robot_placements=placements)
