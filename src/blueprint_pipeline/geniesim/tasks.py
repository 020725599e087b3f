"""Task suggestion: pick_place, stack, push and open_close tasks from affordances and relations.

Which objects:
- pick_place / stack targets are free rigid bodies a table-top arm can take: graspable (physics or
  affordance), some horizontal extent within the gripper stroke less GRIP_FIT_MARGIN_M (1 cm, the
  grasp planner's margin), mass <= MAX_MASS_KG,
  resting `on` a piece of furniture (not on the floor or a room shell), or on a free object (a tray,
  a board) that rests on one: then the goal is on that furniture, off the carrier.
- pick_place goal: a free rectangle on the same support (else on an adjacent support whose top is
  within 0.3 m of it): the target's footprint plus GOAL_PAD_M on each side, inside the support's top,
  overlapping no object on it, 0.15-0.5 m from where the target stands (nearest to 0.25 m first).
  On a shelf of open furniture: on the same shelf, the target's footprint SHELF_WALL_PAD_M inside
  the sides and back.
- stack: onto another graspable object with nothing on it whose top is at least as large as the
  target's footprint and at least as wide as the target at its narrowest, on the same support.
- place_in (a pick_place whose goal support is a container: bowl, basket, tote): into a container
  standing on furniture within PLACE_IN_MAX_MOVE_M whose inside holds the target's footprint plus
  PLACE_IN_PAD_M a side beside what is in it already; one per container, before stacks.
- place_in into a drawer: a drawer inside its carcass (scene/drawers.py, a tray) that has an
  open_close task gets one task putting the nearest fitting free object (footprint and pad within
  what the opened drawer brings out of the carcass, height under its walls' top, within
  PLACE_IN_MAX_MOVE_M) into it; the drawer starts open as its opening leaves it
  (`joint_start_fraction`); counted with place_in.
- push: a free object too wide for the gripper, slid PUSH_DISTANCE_M along one of its sides on its
  support (geniesim/push_tasks.py says which objects and where to).
- open_close: every articulated object, opened, and closed again from where the opening ends
  (a second task, `close_<id>`, same base pose). A prismatic drawer to DRAWER_TARGET_FRACTION of its
  travel, its handle path in reach and the robot base outside the footprint it sweeps, diagonally
  ahead of the open drawer (placement.drawer_pull, swept_footprint, drawer_keepouts); a hinged
  door (scene/doors.py) by 60, 45 or 30 deg (DOOR_TARGETS_RAD), its handle's arc in reach and the base outside
  what the door sweeps (both less when something stands in the way).
A task is kept only if a Franka base pose exists with the target and the goal within reach
(robots.REACH_MARGIN x reach from the shoulder) and the base clear of furniture; UR10 and G2
placements are added when they exist. A pick_place or shelf task no Franka pose reaches (goods
deep in a store shelf) is kept for the robots that reach it; its target is then not skipped, and a
Franka run lists the task as not runnable (episodes summary, `tasks_skipped`).

Difficulty (score -> easy 0, medium 1, hard >= 2): +1 goal on another support; +1 grasp width
under 3 cm or over 6.5 cm; +1 mass over 1 kg; +1 two or more objects adjacent on the support;
stack starts at 1 (precision); open_close: prismatic 0, revolute 1.
Priority: 1, 2, 3 ... after sorting by (type: pick_place, stack, push, open_close; difficulty; openings before
closings; task id).
Caps: MAX_TASKS_PER_OBJECT per target, and per scene at most `TaskCaps` of each family (settings;
articulated objects count once, each has an opening and a closing task).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from blueprint_pipeline.geniesim.geometry import box_overlap_m
from blueprint_pipeline.geniesim.overlaps import OVERLAP_RESOLVE_M, Stacked, stacked
from blueprint_pipeline.geniesim.placement import (
    CLEARANCE_M,
    HANDLE_STANDOFF_M,
    Obstacles,
    Rect,
    apart,
    base_poses,
    base_yaw,
    drawer_keepouts,
    drawer_pull,
    place_robot,
    swept_footprint,
)
from blueprint_pipeline.geniesim.push_tasks import (
    push_goals,
    push_skip_reason,
    push_task,
    shelf_push_goal,
    shelf_push_task,
    too_heavy_to_push,
)
from blueprint_pipeline.geniesim.records import GoalRegion, RobotPlacement, SkippedObject, TaskSpec
from blueprint_pipeline.geniesim.relations import Relation
from blueprint_pipeline.scene.doors import door, swept_rects, swing_room
from blueprint_pipeline.scene.drawers import exposed_inside, tray_of
from blueprint_pipeline.scene.floor import floor_height_m
from blueprint_pipeline.geniesim.robots import ROBOTS
from blueprint_pipeline.robots.description import GRIP_FIT_MARGIN_M, RIM_ROOM_M
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.records import SceneObject, SimRole
from blueprint_pipeline.scene.shelves import Level, OpenFurniture, open_furniture
from blueprint_pipeline.simready.antipodal import from_the_side
from blueprint_pipeline.simready.containers import inside_size_m, is_container, shell_thickness_m
from blueprint_pipeline.simready.records import ObjectPhysics

MAX_MASS_KG = 2.0
STROKE_M = 0.08
GRIP_MARGIN_M = GRIP_FIT_MARGIN_M  # the episodes' grasp planner refuses anything narrower-margined
GOAL_PAD_M = 0.03
SHELF_WALL_PAD_M = 0.01  # inside open furniture a goal keeps this far from its sides and back
GOAL_MIN_MOVE_M, GOAL_MAX_MOVE_M, GOAL_PREFERRED_MOVE_M = 0.15, 0.5, 0.25
GOAL_GRID_M = 0.03
MAX_GOAL_TRIES = 6
MAX_TASKS_PER_OBJECT = 2


@dataclass(frozen=True)
class TaskCaps:
    """How many tasks of each family one scene gets at most (the settings BP_TASK_CAP_PICK_PLACE,
    ..._STACK, ..._PLACE_IN, ..._PUSH, ..._PUSH_IN, ..._OPEN_CLOSE; an articulated object's opening
    and closing count as one). Objects past a cap are listed as skipped with the cap named."""

    pick_place: int = 16
    stack: int = 4
    place_in: int = 4
    push: int = 4
    push_in: int = 8  # pushes further back into open furniture
    open_close: int = 4
_TYPE_RANK = {"pick_place": 0, "stack": 1, "push": 2, "open_close": 3}
_DIFFICULTY = ("easy", "medium", "hard")
_NOT_SUPPORT = (SimRole.SCENE_SHELL, SimRole.BACKGROUND)


@dataclass
class _Context:
    by_id: dict[str, SceneObject]
    physics: dict[str, ObjectPhysics]
    supports_of: dict[str, list[str]]  # object -> objects it stands on
    on_top_of: dict[str, list[str]]  # support -> objects standing on it
    adjacent: dict[str, set[str]]
    floor_z: float
    obstacles: dict[str, Obstacles]
    shelves: dict[str, OpenFurniture] = field(default_factory=dict)  # open furniture by id
    shelf_of: dict[str, str] = field(default_factory=dict)  # object standing inside -> its furniture
    free: list[SceneObject] = field(default_factory=list)  # every free object
    # free objects the manifest puts in one place (geniesim/overlaps.py)
    stacked: Stacked = field(default_factory=lambda: Stacked({}, {}))


def _mass_kg(o: SceneObject, ph: ObjectPhysics | None) -> float | None:
    if ph is not None:
        return ph.mass_kg
    return o.physics.mass_kg if o.physics else None


def grasp_width_m(o: SceneObject, ph: ObjectPhysics | None = None) -> float:
    """The jaw opening the narrowest grasp needs: the narrowest horizontal extent, or for a mesh
    with a rim (a mug, a bowl; simready/rims.py) the wall's thickness plus the room the fingers
    keep on both sides of it (RIM_ROOM_M), or its narrowest antipodal grasp whose axis is at
    least 25 deg off vertical (simready/antipodal.py: one squeezed top to bottom would need a
    finger under what it stands on) plus the same room, if smaller."""
    width = float(min(o.extents_m[0], o.extents_m[1]))
    mesh = ph.mesh if ph is not None else None
    if mesh is not None and mesh.rim is not None:
        width = min(width, mesh.rim.wall_m + 2 * RIM_ROOM_M)
    across = [g.width_m + 2 * RIM_ROOM_M for g in (mesh.antipodal if mesh is not None else ()) if from_the_side(g.axis)]
    return min([width, *across])


def is_pickable(o: SceneObject, ph: ObjectPhysics | None) -> bool:
    return o.sim_role.is_dynamic and pick_skip_reason(o, ph) is None


def _is_furniture(o: SceneObject, floor_z: float) -> bool:
    return o.sim_role not in _NOT_SUPPORT and o.aabb_max_m[2] > floor_z + 0.05 and not o.sim_role.is_dynamic


def _goal_spots(ctx: _Context, target: SceneObject, support: SceneObject,
                shelf: tuple[OpenFurniture, Level] | None = None) -> list[GoalRegion]:
    """Free goal rectangles on `support`'s top for `target`, best first (`shelf`: on that level
    of open furniture, inside its sides and back, clear of what stands on the same level)."""
    half = (np.asarray(target.aabb_max_m[:2]) - np.asarray(target.aabb_min_m[:2])) / 2 + GOAL_PAD_M
    rot = matrix_np(support.orientation_wxyz)[:2, :2]
    hx, hy = support.extents_m[0] / 2, support.extents_m[1] / 2
    lo, hi = np.array([-hx, -hy]), np.array([hx, hy])
    surface_z = float(support.aabb_max_m[2])
    occupants = ctx.on_top_of.get(support.id, [])
    if shelf is not None:
        furniture, level = shelf
        lo, hi = furniture.interior_local()
        surface_z = level.z_m
        occupants = [o for o in furniture.contents if furniture.level_at(ctx.by_id[o].aabb_min_m[2]) == level]
    # how far the goal's centre keeps from the support's edges: on a table, the rectangle's radius
    # (it fits whatever the support's yaw); inside open furniture, the target's own footprint in the
    # furniture's frame plus SHELF_WALL_PAD_M (books stand 22 cm deep in a 30 cm shelf)
    inset = np.full(2, float(np.linalg.norm(half)))
    if shelf is not None:
        rel = (matrix_np(support.orientation_wxyz).T @ matrix_np(target.orientation_wxyz))[:2]
        inset = np.abs(rel) @ (0.5 * np.asarray(target.extents_m, dtype=float)) + SHELF_WALL_PAD_M
    if np.any(hi - lo <= 2 * inset):
        return []
    gx = np.arange(lo[0] + inset[0], hi[0] - inset[0] + 1e-9, GOAL_GRID_M)
    gy = np.arange(lo[1] + inset[1], hi[1] - inset[1] + 1e-9, GOAL_GRID_M)
    lx, ly = np.meshgrid(gx, gy, indexing="ij")
    local = np.stack([lx.ravel(), ly.ravel()], axis=1)
    world = np.asarray(support.position_m[:2]) + local @ rot.T
    here = np.asarray(target.position_m[:2])
    move = np.linalg.norm(world - here, axis=1)
    ok = (move >= GOAL_MIN_MOVE_M) & (move <= GOAL_MAX_MOVE_M)
    for oid in occupants:
        if oid == target.id:
            continue
        o = ctx.by_id[oid]
        ok &= ~((world[:, 0] + half[0] > o.aabb_min_m[0]) & (world[:, 0] - half[0] < o.aabb_max_m[0])
                & (world[:, 1] + half[1] > o.aabb_min_m[1]) & (world[:, 1] - half[1] < o.aabb_max_m[1]))
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(np.abs(move[idx] - GOAL_PREFERRED_MOVE_M), kind="stable")]
    # spread the tries: skip spots within 5 cm of one already listed
    chosen: list[np.ndarray] = []
    for k in idx:
        if all(np.linalg.norm(world[k] - c) > 0.05 for c in chosen):
            chosen.append(world[k])
        if len(chosen) >= MAX_GOAL_TRIES:
            break
    return [GoalRegion(support_object_id=support.id, center_m=(float(c[0]), float(c[1]), surface_z),
                       size_m=(float(2 * half[0]), float(2 * half[1])), surface_z_m=surface_z) for c in chosen]


def _placements(ctx: _Context, points: np.ndarray, support: SceneObject, surface_z_m: float,
                shelf: tuple[OpenFurniture, Level] | None = None, need_franka: bool = True,
                keep_out: Rect | None = None,
                reach_scaled: bool = True) -> dict[str, RobotPlacement]:
    """Base poses per robot (none at all when the Franka has none); on a shelf, in front of its
    open side. The reach is judged as the episodes stage mounts the arm: on a pedestal at the goal
    surface's height (`surface_z_m`, a shelf's board) plus the robot's offset; a robot with a body
    (the G2) from the floor. `keep_out`: one more turned rectangle the base stays out of (an open
    drawer's, placement.swept_footprint).
    `reach_scaled`: on a shelf, a longer arm first tries the distances scaled by its reach
    (`_shelf_tries`); off for pushes further into open furniture, whose hand goes to the back."""
    faces = [(shelf[0].front_axis, shelf[0].front_sign)] if shelf else None
    out: dict[str, RobotPlacement] = {}
    for name, spec in ROBOTS.items():
        obstacles = ctx.obstacles[name] if keep_out is None else ctx.obstacles[name].with_rects([keep_out])

        def search(mount: float | None) -> RobotPlacement | None:
            # on a shelf, first far enough back that the hand can slide things out of the row
            for standoff, near in _shelf_standoffs(spec, reach_scaled) if shelf else [(CLEARANCE_M, 0.0)]:
                found = place_robot(spec, points, support, obstacles, ctx.floor_z, faces=faces,
                                    mount_z_m=mount, standoff_m=standoff, min_distance_m=near)
                if found is not None:
                    return found
            return None

        p = search(None if spec.mount_above_surface_m is None else surface_z_m + spec.mount_above_surface_m)
        if p is None and name == "franka" and need_franka:
            return {}
        # which goal a task gets is decided with the default mounts above (every robot's tasks
        # stay as they were); then the arm's shoulder goes to the board where that reaches
        low = _shoulder_at_board(ctx, spec, surface_z_m) if shelf else None
        at_board = None if low is None else search(low)
        if at_board is not None:
            p = at_board.model_copy(update={"mount_z_m": low})
        if p is not None:
            out[name] = p
    return out


def _shelf_alternatives(ctx: _Context, points: np.ndarray, support: SceneObject, surface_z_m: float,
                        shelf: tuple[OpenFurniture, Level], placements: dict[str, RobotPlacement],
                        reach_scaled: bool = True) -> dict[str, list[RobotPlacement]]:
    """Other base poses in front of open furniture for each robot with a placement there
    (TaskSpec.placement_alternatives): from every standoff of `_shelf_tries`, on the default
    pedestal (the goal surface plus the robot's offset) and on one that puts the shoulder at the
    board, best first, up to PLACEMENT_ALTERNATIVES."""
    faces = [(shelf[0].front_axis, shelf[0].front_sign)]
    out: dict[str, list[RobotPlacement]] = {}
    for name, first in placements.items():
        spec = ROBOTS[name]
        if spec.mount_above_surface_m is None:
            continue
        low = _board_mount(ctx, spec, surface_z_m)
        mounts = [(None, surface_z_m + spec.mount_above_surface_m), (low, low)]  # (recorded, used for reach)
        found = _others(first, (p.model_copy(update={"mount_z_m": recorded})
                                for standoff, near in _shelf_standoffs(spec, reach_scaled) for recorded, mount in mounts
                                for p in base_poses(spec, points, support, ctx.obstacles[name], ctx.floor_z,
                                                    faces=faces, mount_z_m=mount, standoff_m=standoff,
                                                    min_distance_m=near, count=2)))
        if found:
            out[name] = found
    return out


def _board_mount(ctx: _Context, spec, surface_z_m: float) -> float:
    """The pedestal's top that puts the arm's shoulder at the board's height (`_shoulder_at_board`)."""
    return round(max(ctx.floor_z, surface_z_m - spec.shoulders_base_m[0][2]), 6)


def _shoulder_at_board(ctx: _Context, spec, surface_z_m: float) -> float | None:
    """The arm's mount in open furniture, recorded in the placement's `mount_z_m`: the shoulder at
    the board's height (None: a robot without `shoulder_at_shelf_board`, robots/description.py). From a
    pedestal at the board (the default mount: the surface plus the robot's
    `mount_above_surface_m`), the Franka's elbow rises above its shoulder and its forearm slopes
    down into the shelf through the board above; with the shoulder at the board the forearm goes
    in level under it. Where no base pose reaches from there, the default mount's placement is
    used; the episodes stage falls back to the default mount (at the same base pose) for a task
    it finds no plan for this way (sim/stage.prepare_tasks). The task's goal is chosen with the
    default mounts, as before: choosing it with this mount changed which spot a pantry task got
    and left the UR10 no task in that scene. Keeping the default mount's base pose where it
    reaches from both heights did worse (two of a laundry shelf's episodes found no plan from
    their drawn starts)."""
    if not spec.shoulder_at_shelf_board or spec.mount_above_surface_m is None:
        return None
    return _board_mount(ctx, spec, surface_z_m)


def _difficulty(score: int) -> str:
    return _DIFFICULTY[min(score, 2)]


def _pick_score(ctx: _Context, target: SceneObject, goal_support: str, current_support: str) -> int:
    width = grasp_width_m(target, ctx.physics.get(target.id))
    mass = _mass_kg(target, ctx.physics.get(target.id)) or 0.0
    crowd = len(ctx.adjacent.get(target.id, set()) & set(ctx.on_top_of.get(current_support, [])))
    return (int(goal_support != current_support) + int(width < 0.03 or width > 0.065)
            + int(mass > 1.0) + int(crowd >= 2))


def pick_skip_reason(o: SceneObject, ph: ObjectPhysics | None) -> str | None:
    """Why a free object cannot be picked by the grippers we model (None: it can)."""
    graspable = ph.graspable if ph is not None else o.has_affordance("Graspable")
    mass = _mass_kg(o, ph)
    if not graspable:
        why = ph.graspable_reason if ph is not None else "no Graspable affordance"
        return f"not graspable ({why})"
    if mass is None:
        return "no mass"
    if mass > MAX_MASS_KG:
        return f"too heavy ({mass:.2f} kg; at most {MAX_MASS_KG:g} kg)"
    width = grasp_width_m(o, ph)
    if width > STROKE_M - GRIP_MARGIN_M:
        return (f"too wide for the gripper ({100 * width:.1f} cm at its narrowest; the hand opens "
                f"{100 * STROKE_M:.0f} cm and keeps {1000 * GRIP_MARGIN_M:.0f} mm of margin)")
    return None


SHELF_HEADROOM_M = 0.05  # a shelf's clear height must exceed the object's by this much to lift it
# A base in front of open furniture stands this far from its front: the Franka's home pose holds
# its hand 0.31 m ahead of the base, which must not start inside the shelf above the one it works on.
SHELF_STANDOFF_M = 0.3
# Preferred: every point (the object, its goal) at least SHELF_MIN_DISTANCE_M from the base in x-y,
# the base SHELF_STANDOFFS_M from the front (nearest first): a hand pitched down into a shelf cannot
# work within about 0.35 m of the base, and it stages 0.27 m in front of a grasp and slides a book
# out by its depth. Else the nearest base pose that reaches (SHELF_STANDOFF_M).
SHELF_MIN_DISTANCE_M = 0.6
SHELF_STANDOFFS_M = (0.3, 0.4, 0.5)


def _shelf_tries(spec, reach_scaled: bool = True) -> list[tuple[float, float]]:
    """(standoff, minimum distance) pairs for a base in front of open furniture, first choice
    first. The distances above are the Franka's; a longer arm tries them scaled by its reach over
    the Franka's first (the UR10, 1.3 m: standoffs 0.46-0.76 m, everything at least 0.91 m from
    the base), then the Franka's. From the Franka's distances the UR10 reached a bottom-shelf book
    only with its upper arm in the floor (elbow down) or its forearm through the board above
    (elbow up). Pushes further into open furniture keep the Franka's (`reach_scaled` off): from
    the scaled ones the UR10 lost 3 of a pantry's 5 such pushes."""
    franka = [(s, SHELF_MIN_DISTANCE_M) for s in SHELF_STANDOFFS_M]
    return [(s * k, d * k) for k in (_reach_scales(spec) if reach_scaled else (1.0,)) for s, d in franka]


def _shelf_standoffs(spec, reach_scaled: bool = True) -> list[tuple[float, float]]:
    """`_shelf_tries`, then the nearest standoff with no minimum distance: every (standoff,
    minimum distance) a base in front of open furniture is tried at, in order."""
    return [*_shelf_tries(spec, reach_scaled), (SHELF_STANDOFF_M, 0.0)]


def _reach_scales(spec) -> tuple[float, ...]:
    """Factors for the distances a base keeps from open furniture and from a drawer's path, which
    were chosen for the Franka: a longer arm tries them scaled by its reach over the Franka's
    first, then as they are. Not for doors: scaled, the UR10's base moved at every door of the
    kitchen-appliances scene, and its fridge door's closing, 3/3 before, slipped in 1 of 2."""
    k = spec.config.reach_m / ROBOTS["franka"].config.reach_m
    return (k, 1.0) if k > 1.0 + 1e-9 else (1.0,)


def _pick_place_on_shelf(ctx: _Context, target: SceneObject, furniture: OpenFurniture) -> TaskSpec | str:
    """A pick_place to another spot on the same shelf of open furniture, or why there is none."""
    support = ctx.by_id[furniture.id]
    level = furniture.level_at(target.aabb_min_m[2])
    if level is None:
        return f"nothing to stand on: no shelf of the {support.name} at its height"
    height = float(target.aabb_max_m[2] - target.aabb_min_m[2])
    if level.clear_height_m < height + SHELF_HEADROOM_M:
        return (f"no room to lift it: its shelf of the {support.name} is {100 * level.clear_height_m:.0f} cm "
                f"high, the object {100 * height:.0f} cm")
    shelf = (furniture, level)
    spots = _goal_spots(ctx, target, support, shelf)
    if not spots:
        return f"no free goal spot 15-50 cm away on its shelf of the {support.name}"
    for need_franka, goal in [(n, g) for n in (True, False) for g in spots]:  # the Franka's reach first
        points = np.array([target.position_m, (goal.center_m[0], goal.center_m[1], goal.surface_z_m + height / 2)])
        placements = _placements(ctx, points, support, goal.surface_z_m, shelf, need_franka)
        if placements:
            score = _pick_score(ctx, target, support.id, support.id)
            return TaskSpec(
                task_id=f"pick_place_{target.id}_to_{support.id}", type="pick_place",
                description=f"pick up the {target.name} and place it elsewhere on its shelf of the {support.name}",
                target_object_id=target.id, goal=goal, difficulty=_difficulty(score), priority=0,
                robot_placements=placements,
                placement_alternatives=_shelf_alternatives(ctx, points, support, goal.surface_z_m, shelf, placements))
    return f"out of reach: no robot base pose in front of the {support.name} reaches the object and a goal spot"


def _under(ctx: _Context, target: SceneObject) -> str | None:
    """Another free object the manifest puts in the target's place that starts resting on it
    (geniesim/overlaps.py: the lighter of the two, as the simulation starts them), or None. The
    one on top is taken as it lies; the one under it is not."""
    return ctx.stacked.under.get(target.id)


FINGER_ROOM_M = 0.015  # free space a finger needs beside the face it closes on
FINGER_DEPTH_M = 0.03  # fingers reach this far down a grasped object's sides


def _packed(ctx: _Context, target: SceneObject) -> str | None:
    """For a box-shaped target: neighbours within FINGER_ROOM_M of the faces on either side of
    every horizontal axis narrow enough to grip (books in a row, boxes packed side by side), as
    "<a> and <b>"; None when some axis leaves room for both fingers. Round objects are gripped
    from any direction (the episodes sample 8) and are not judged here. A target that starts
    resting on another (geniesim/overlaps.py) is judged where it starts."""
    ph = ctx.physics.get(target.id)
    if ph is None or ph.collider.value != "box":
        return None
    rot = matrix_np(target.orientation_wxyz)
    ext = np.asarray(target.extents_m, dtype=float)
    lift = ctx.stacked.lifts.get(target.id, 0.0)
    low = float(target.aabb_max_m[2]) + lift - FINGER_DEPTH_M  # neighbours below this are under the fingers
    near = [o for o in ctx.free if o.id != target.id and o.aabb_max_m[2] > low
            and not is_container(o, ctx.physics.get(o.id))
            and np.all(np.asarray(o.aabb_min_m[:2]) < np.asarray(target.aabb_max_m[:2]) + 0.1)
            and np.all(np.asarray(o.aabb_max_m[:2]) > np.asarray(target.aabb_min_m[:2]) - 0.1)]
    blocked_by = []
    for k in (0, 1):
        if ext[k] > STROKE_M - GRIP_MARGIN_M:
            continue
        sides = []
        for sign in (-1.0, 1.0):
            room = ext.copy()
            room[k] = FINGER_ROOM_M
            centre = (np.asarray(target.position_m, dtype=float) + np.array([0.0, 0.0, lift])
                      + rot[:, k] * sign * (ext[k] + FINGER_ROOM_M) / 2)
            hit = next((o.id for o in near if box_overlap_m(centre, rot, room, o.position_m,
                                                              matrix_np(o.orientation_wxyz), o.extents_m) > 0.0), None)
            sides.append(hit)
        if None in sides:
            return None
        blocked_by.append(f"{sides[0]} and {sides[1]}")
    return blocked_by[0] if blocked_by else None


def _cannot_take(ctx: _Context, target: SceneObject) -> str | None:
    """Why the object cannot be taken where it stands, whatever the task (None: it can)."""
    if (other := _under(ctx, target)) is not None:
        return (f"under {other}: the manifest puts the two solids in one place, and the lighter "
                f"{other} starts resting on it (more than {1000 * OVERLAP_RESOLVE_M:.0f} mm deep)")
    if (pair := _packed(ctx, target)) is not None:
        return (f"packed in: {pair} leave no {100 * FINGER_ROOM_M:.1f} cm for a finger on either side of "
                f"each face it fits between (a parallel gripper must first tilt it out)")
    return None


def _pick_place(ctx: _Context, target: SceneObject) -> TaskSpec | str:
    """The task, or why there is none."""
    if target.id in ctx.shelf_of:
        return _pick_place_on_shelf(ctx, target, ctx.shelves[ctx.shelf_of[target.id]])
    supports = [s for s in ctx.supports_of.get(target.id, []) if _is_furniture(ctx.by_id[s], ctx.floor_z)]
    # on a tray, a board or a book that stands on furniture: taken off it, onto that furniture
    carriers = {s: f for s in ctx.supports_of.get(target.id, []) if ctx.by_id[s].sim_role.is_dynamic
                for f in ctx.supports_of.get(s, []) if _is_furniture(ctx.by_id[f], ctx.floor_z)}
    if not supports and carriers:
        supports = sorted(set(carriers.values()))
    if not supports:
        return ("nothing to stand on: it rests on no piece of furniture"
                if not ctx.supports_of.get(target.id) else "it rests on the floor or on another object")
    had_goal = False
    for need_franka, support_id in [(n, s) for n in (True, False) for s in supports]:  # the Franka's reach first
        support = ctx.by_id[support_id]
        neighbours = [ctx.by_id[a] for a in sorted(ctx.adjacent.get(support_id, set()))
                      if _is_furniture(ctx.by_id[a], ctx.floor_z)
                      and abs(ctx.by_id[a].aabb_max_m[2] - support.aabb_max_m[2]) <= 0.3]
        for goal_support in [support, *neighbours]:
            for goal in _goal_spots(ctx, target, goal_support):
                had_goal = True
                lift = (target.aabb_max_m[2] - target.aabb_min_m[2]) / 2
                points = np.array([target.position_m, (goal.center_m[0], goal.center_m[1], goal.surface_z_m + lift)])
                placements = _placements(ctx, points, support, goal.surface_z_m, need_franka=need_franka)
                if not placements:
                    continue
                score = _pick_score(ctx, target, goal_support.id, support_id)
                return TaskSpec(
                    task_id=f"pick_place_{target.id}_to_{goal_support.id}", type="pick_place",
                    description=f"pick up the {target.name} and place it on the {goal_support.name}",
                    target_object_id=target.id, goal=goal, difficulty=_difficulty(score), priority=0,
                    robot_placements=placements)
    if not had_goal:
        return "no free goal spot 15-50 cm away on its support or a neighbouring one"
    return "out of reach: no robot base pose reaches both the object and a goal spot"


def _stack(ctx: _Context, target: SceneObject, taken: set[str]) -> TaskSpec | None:
    t_area = np.prod(np.asarray(target.aabb_max_m[:2]) - np.asarray(target.aabb_min_m[:2]))
    for support_id in ctx.supports_of.get(target.id, []):
        if not _is_furniture(ctx.by_id[support_id], ctx.floor_z):
            continue
        for base_id in ctx.on_top_of.get(support_id, []):
            base = ctx.by_id[base_id]
            if base_id == target.id or base_id in taken or ctx.on_top_of.get(base_id):
                continue
            if (not is_pickable(base, ctx.physics.get(base_id)) or _cannot_take(ctx, base) is not None
                    or ctx.stacked.rests_on_another(base_id)):
                continue
            b_area = np.prod(np.asarray(base.aabb_max_m[:2]) - np.asarray(base.aabb_min_m[:2]))
            if b_area < t_area or np.linalg.norm(np.subtract(base.position_m, target.position_m)) > GOAL_MAX_MOVE_M:
                continue
            if grasp_width_m(base) < grasp_width_m(target):  # a tube does not stand on a knife's edge
                continue
            top = float(base.aabb_max_m[2])
            goal = GoalRegion(support_object_id=base_id, center_m=(base.position_m[0], base.position_m[1], top),
                              size_m=(base.aabb_max_m[0] - base.aabb_min_m[0], base.aabb_max_m[1] - base.aabb_min_m[1]),
                              surface_z_m=top)
            lift = (target.aabb_max_m[2] - target.aabb_min_m[2]) / 2
            points = np.array([target.position_m, (base.position_m[0], base.position_m[1], top + lift)])
            placements = _placements(ctx, points, ctx.by_id[support_id], top)
            if not placements:
                continue
            score = 1 + _pick_score(ctx, target, support_id, support_id)
            return TaskSpec(
                task_id=f"stack_{target.id}_on_{base_id}", type="stack",
                description=f"stack the {target.name} on the {base.name}", target_object_id=target.id,
                goal=goal, difficulty=_difficulty(score), priority=0, robot_placements=placements)
    return None


PLACE_IN_PAD_M = 0.02  # a place_in target fits its container's inside with this much room on each side
PLACE_IN_MAX_MOVE_M = 1.0  # ... and stands at most this far from it


def container_inside(c: SceneObject, ph: ObjectPhysics) -> tuple[float, tuple[float, float], float]:
    """A container's floor top (world z), its inside's horizontal size in its own frame, and its
    rim (world z), as sim/containers.py builds its shell."""
    bottom = float(c.aabb_min_m[2])
    return bottom + shell_thickness_m(ph.collider_size_m), inside_size_m(ph), float(c.aabb_max_m[2])


def _in_container(o: SceneObject, c: SceneObject) -> bool:
    """Whether `o` stands inside `c` (its centre over c's box, its bottom between c's bottom and rim)."""
    return (c.aabb_min_m[0] <= o.position_m[0] <= c.aabb_max_m[0] and c.aabb_min_m[1] <= o.position_m[1] <= c.aabb_max_m[1]
            and c.aabb_min_m[2] - 0.01 <= o.aabb_min_m[2] < c.aabb_max_m[2])


def _free_inside(c: SceneObject, room: np.ndarray, foot: np.ndarray, contents: list[SceneObject]) -> np.ndarray | None:
    """World xy for the target's centre inside container `c`: its middle when empty, else the
    point of a 2 cm grid over `room` (the inside less the footprint and pads, in c's frame) whose
    footprint (plus PLACE_IN_PAD_M) overlaps none of `contents` and lies farthest from them."""
    rot = matrix_np(c.orientation_wxyz)[:2, :2]
    mid = np.asarray(c.position_m[:2], dtype=float)
    if not contents:
        return mid
    gx = np.arange(-room[0] / 2, room[0] / 2 + 1e-9, GOAL_GRID_M * 2 / 3)
    gy = np.arange(-room[1] / 2, room[1] / 2 + 1e-9, GOAL_GRID_M * 2 / 3)
    local = np.array([(x, y) for x in gx for y in gy])
    world = mid + local @ rot.T
    half = np.abs(rot) @ (0.5 * foot + PLACE_IN_PAD_M)
    lo = np.array([o.aabb_min_m[:2] for o in contents])
    hi = np.array([o.aabb_max_m[:2] for o in contents])
    gap = np.maximum(lo[None] - (world[:, None] + half), (world[:, None] - half) - hi[None]).max(axis=2).min(axis=1)
    if not np.any(gap > 0.0):
        return None
    return world[int(np.argmax(gap))]


def _place_in(ctx: _Context, target: SceneObject, taken: set[str]) -> TaskSpec | None:
    """Put the target into a container (a bowl, a basket, a tote) standing on furniture within
    PLACE_IN_MAX_MOVE_M with room for its footprint: a pick_place whose goal is the container's
    floor, its region the inside less the target's footprint (empty), or a free spot beside what
    is inside already. None: no container fits."""
    supports = set(ctx.supports_of.get(target.id, []))
    for c in sorted(ctx.by_id.values(), key=lambda o: o.id):
        ph = ctx.physics.get(c.id)
        if (c.id == target.id or c.id in taken or c.id in supports or ph is None or not is_container(c, ph)
                or _in_container(target, c)):
            continue
        if c.sim_role.is_dynamic and not any(_is_furniture(ctx.by_id[s], ctx.floor_z) for s in ctx.supports_of.get(c.id, [])):
            continue  # a free container that is not standing on furniture
        if np.linalg.norm(np.subtract(c.position_m[:2], target.position_m[:2])) > PLACE_IN_MAX_MOVE_M:
            continue
        floor_z, inside, rim_z = container_inside(c, ph)
        rel = (matrix_np(c.orientation_wxyz).T @ matrix_np(target.orientation_wxyz))[:2]
        foot = 2 * (np.abs(rel) @ (0.5 * np.asarray(target.extents_m, dtype=float)))  # in the container's frame
        room = np.asarray(inside) - foot - 2 * PLACE_IN_PAD_M
        if np.any(room <= 0.0):
            continue
        inside_now = [o for o in ctx.free if o.id not in (target.id, c.id) and (c.id in ctx.supports_of.get(o.id, [])
                                                                    or _in_container(o, c))]
        centre = _free_inside(c, room, foot, inside_now)
        if centre is None:  # fruit fills the bowl: no room for the target's footprint
            continue
        height = float(target.aabb_max_m[2] - target.aabb_min_m[2])
        if inside_now:  # next to what is inside: a region of the footprint and its pad
            size = tuple(float(v) for v in np.abs(matrix_np(c.orientation_wxyz)[:2, :2]) @ (foot + 2 * PLACE_IN_PAD_M))
        else:  # the whole inside (axis-aligned in the world: the square within a turned container)
            size = (float(room.min()),) * 2
        goal = GoalRegion(support_object_id=c.id, center_m=(float(centre[0]), float(centre[1]), floor_z),
                          size_m=size, surface_z_m=floor_z)
        points = np.array([target.position_m, (centre[0], centre[1], max(rim_z, floor_z + height))])
        furniture = next((ctx.by_id[s] for s in ctx.supports_of.get(target.id, [])
                          if _is_furniture(ctx.by_id[s], ctx.floor_z)), None)
        placements = _placements(ctx, points, furniture if furniture is not None else c, floor_z)
        if not placements:
            continue
        score = 1 + _pick_score(ctx, target, c.id, furniture.id if furniture is not None else "")
        return TaskSpec(
            task_id=f"pick_place_{target.id}_into_{c.id}", type="pick_place",
            description=f"put the {target.name} into the {c.name}", target_object_id=target.id,
            goal=goal, difficulty=_difficulty(score), priority=0, robot_placements=placements)
    return None


def _into_drawer(ctx: _Context, drawer: SceneObject, opening: TaskSpec, candidates: Sequence[SceneObject],
                 per_object: dict[str, int]) -> TaskSpec | None:
    """Put a free object into an opened drawer (module docstring): the goal region is the square
    of centres that keeps the object's footprint (either way round) and PLACE_IN_PAD_M a side
    within the part of the tray's floor out of the carcass (2 cm from its face); the base stays
    out of the open drawer's footprint. None: nothing fits, or no base reaches."""
    objects = list(ctx.by_id.values())
    tray = tray_of(drawer, objects)
    if tray is None or opening.joint_target_fraction is None:
        return None
    _, pull, travel = drawer_pull(drawer, opening.joint_target_fraction, ctx.floor_z, objects)
    inside = exposed_inside(drawer, ctx.by_id[tray.carcass_id], pull, travel)
    if inside is None:
        return None
    keep_out = swept_footprint(drawer, pull, travel, DRAWER_BASE_MARGIN_M)
    centre = inside.centre_m
    for t in sorted(candidates, key=lambda c: float(np.linalg.norm(np.subtract(c.position_m[:2], centre[:2])))):
        if per_object[t.id] >= MAX_TASKS_PER_OBJECT or ctx.shelf_of.get(t.id) is not None:
            continue
        if np.linalg.norm(np.subtract(t.position_m[:2], centre[:2])) > PLACE_IN_MAX_MOVE_M:
            break
        height = float(t.aabb_max_m[2] - t.aabb_min_m[2])
        room = inside.square_m() - float(max(t.extents_m[0], t.extents_m[1])) - 2 * PLACE_IN_PAD_M
        if height > inside.rim_z_m - inside.floor_z_m or room <= 0.0:
            continue
        goal = GoalRegion(support_object_id=drawer.id, center_m=(float(centre[0]), float(centre[1]), inside.floor_z_m),
                          size_m=(room, room), surface_z_m=inside.floor_z_m)
        points = np.array([t.position_m, (centre[0], centre[1], max(inside.rim_z_m, inside.floor_z_m + height))])
        furniture = next((ctx.by_id[s] for s in ctx.supports_of.get(t.id, []) if _is_furniture(ctx.by_id[s], ctx.floor_z)),
                         ctx.by_id[tray.carcass_id])
        placements = _placements(ctx, points, furniture, inside.floor_z_m, keep_out=keep_out)
        if not placements:
            continue
        return TaskSpec(task_id=f"pick_place_{t.id}_into_{drawer.id}", type="pick_place",
                        description=f"put the {t.name} into the {drawer.name}", target_object_id=t.id, goal=goal,
                        joint_start_fraction=opening.joint_target_fraction, difficulty=_difficulty(2), priority=0,
                        robot_placements=placements)
    return None


DRAWER_TARGET_FRACTION = 0.8  # drawers: pulled to 80% of their travel (the end stop is not a target)
DRAWER_BASE_MARGIN_M = 0.03  # the robot base keeps this far from a drawer's swept footprint
# ... does not stand beside its travel, behind the open front (side), nor straight ahead of the
# open handle (front) (placement.drawer_keepouts); the strictest pair with a base pose is used,
# the feasibility probe of the episodes stage then checks the whole arm against the scene
DRAWER_KEEPOUTS_M = ((1.0, 0.4), (0.4, 0.3), (0.15, 0.15))  # (side, front)


MIN_DRAWER_OPENING_M = 0.05  # a drawer that cannot be pulled this far before it meets something gets no task


def _drawer_room(ctx: _Context, o: SceneObject, pull: np.ndarray) -> tuple[float, str | None]:
    """How far the drawer's front (with its handle) can travel along `pull` before it meets
    another object standing in its way (world boxes; objects standing on the drawer ride along),
    and that object's id (inf, None: nothing in the way)."""
    p = np.asarray(pull[:2], dtype=float)
    p /= max(float(np.linalg.norm(p)), 1e-9)
    side = np.array([-p[1], p[0]])
    lo, hi = np.asarray(o.aabb_min_m, dtype=float), np.asarray(o.aabb_max_m, dtype=float)
    corners = np.array([[x, y] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])])
    front = float(np.max(corners @ p)) + HANDLE_STANDOFF_M + 0.01  # the handle bar's far side
    s_lo, s_hi = float(np.min(corners @ side)), float(np.max(corners @ side))
    room, blocker = np.inf, None
    for b in ctx.by_id.values():
        if b.id == o.id or b.sim_role in _NOT_SUPPORT or o.id in ctx.supports_of.get(b.id, []):
            continue
        if b.aabb_max_m[2] <= lo[2] + 0.01 or b.aabb_min_m[2] >= hi[2] - 0.01:
            continue  # below or above the drawer (the floor, a shelf above it)
        bc = np.array([[x, y] for x in (b.aabb_min_m[0], b.aabb_max_m[0]) for y in (b.aabb_min_m[1], b.aabb_max_m[1])])
        if float(np.max(bc @ side)) <= s_lo or float(np.min(bc @ side)) >= s_hi:
            continue  # beside its path
        near = float(np.min(bc @ p))
        if near >= front - 0.02 and near - front < room:
            room, blocker = near - front, b.id
    return max(room, 0.0), blocker


def _place_for_part(ctx: _Context, spec, points: np.ndarray, o: SceneObject, obstacles,
                    min_distance_m: float = 0.0, count: int = 1) -> list[RobotPlacement]:
    """Up to `count` base poses for working a drawer or door (placement.base_poses, best first):
    on the floor, else, for a part of something standing on furniture (a microwave on a
    counter), on a pedestal at the furniture's top (plus the robot's mount above a surface, as for
    pick tasks on a shelf), recorded in the placement's `mount_z_m`. A handle 1.05 m up, 35 cm
    ahead of the base (the door's sweep), is out of a floor-mounted Franka's reach."""
    found = base_poses(spec, points, o, obstacles, ctx.floor_z, min_distance_m=min_distance_m, count=count)
    supports = [ctx.by_id[s] for s in ctx.supports_of.get(o.id, []) if s in ctx.by_id]
    if found or not supports or spec.mount_above_surface_m is None:
        return found
    mount = max(float(s.aabb_max_m[2]) for s in supports) + spec.mount_above_surface_m
    found = base_poses(spec, points, o, obstacles, ctx.floor_z, mount_z_m=mount, min_distance_m=min_distance_m,
                       count=count)
    return [p.model_copy(update={"mount_z_m": round(mount, 6)}) for p in found]


# Other base poses a drawer's or door's task carries per robot (TaskSpec.placement_alternatives),
# for the episodes stage's probe to try when the placement has no plan: the placement is chosen by
# reach and footprints; whether the arm's joints and the scene allow the motion from there only
# the planner knows (a UR10's office drawer and bedroom nightstand drawer planned from one of two
# base poses that reached them equally).
PLACEMENT_ALTERNATIVES = 3


def _other_poses(ctx: _Context, spec, points: np.ndarray, o: SceneObject, obstacle_sets, first: RobotPlacement,
                 min_distance_m: float = 0.0) -> list[RobotPlacement]:
    """Up to PLACEMENT_ALTERNATIVES base poses other than `first` (moved or turned from it and
    from each other as placement.base_poses separates them) for the points, from each obstacle
    set in turn (the strictest keep-outs first)."""
    return _others(first, (p for obstacles in obstacle_sets
                           for p in _place_for_part(ctx, spec, points, o, obstacles, min_distance_m,
                                                    PLACEMENT_ALTERNATIVES + 1)))


def _others(first: RobotPlacement, candidates: Iterable[RobotPlacement]) -> list[RobotPlacement]:
    """The first PLACEMENT_ALTERNATIVES of `candidates` (taken lazily, in order) that are other
    base poses than `first` and than each other (placement.apart, or on another mount)."""
    out: list[RobotPlacement] = []
    for p in candidates:
        if all(apart(p.base_position_m, base_yaw(p), q.base_position_m, base_yaw(q)) or p.mount_z_m != q.mount_z_m
               for q in (first, *out)):
            out.append(p)
            if len(out) >= PLACEMENT_ALTERNATIVES:
                break
    return out


def _drawer_placements(ctx: _Context, o: SceneObject, fraction: float = DRAWER_TARGET_FRACTION
                       ) -> tuple[dict[str, RobotPlacement], dict[str, list[RobotPlacement]]]:
    """A drawer is pulled along its axis: both ends of the handle's path must be in reach, the
    base must stand outside the footprint the drawer sweeps, diagonally ahead of the open drawer
    (placement.drawer_keepouts). Each robot's placement (none at all when the Franka has none)
    and its other poses (`_other_poses`)."""
    handle, pull, travel = drawer_pull(o, fraction, ctx.floor_z, list(ctx.by_id.values()))
    points = np.array([handle, handle + travel * pull])
    swept = swept_footprint(o, pull, travel, DRAWER_BASE_MARGIN_M)

    def obstacles(name: str, side_m: float, front_m: float, k: float) -> Obstacles:
        return ctx.obstacles[name].with_rects([swept, *drawer_keepouts(o, pull, travel, side_m * k, front_m * k)])

    for side_m, front_m in DRAWER_KEEPOUTS_M:
        out: dict[str, RobotPlacement] = {}
        for name, spec in ROBOTS.items():
            p = None
            for k in _reach_scales(spec):  # a longer arm stands further off first
                found = _place_for_part(ctx, spec, points, o, obstacles(name, side_m, front_m, k))
                if found:
                    p = found[0]
                    break
            if p is not None:
                out[name] = p
            elif name == "franka":
                break
        if "franka" in out:
            others = {name: _other_poses(ctx, ROBOTS[name], points, o,
                                         [obstacles(name, s, f, k) for s, f in DRAWER_KEEPOUTS_M
                                          for k in _reach_scales(ROBOTS[name])], p)
                      for name, p in out.items()}
            return out, {name: v for name, v in others.items() if v}
    return {}, {}


def _open_close(ctx: _Context, o: SceneObject) -> TaskSpec | None | str:
    """The reach point is the middle of a vertical face at a handle height (at most 1 m above the
    floor); each face is tried in turn, the robot stands in front of it. A drawer is pulled to
    DRAWER_TARGET_FRACTION of its travel, or less when something stands in its way (to 2 cm
    short of it; no task when that leaves less than MIN_DRAWER_OPENING_M: the reason says what
    blocks it)."""
    if o.articulation is not None and o.articulation.type == "prismatic":
        art = o.articulation
        fraction = DRAWER_TARGET_FRACTION
        _, pull, travel = drawer_pull(o, fraction, ctx.floor_z, list(ctx.by_id.values()))
        room, blocker = _drawer_room(ctx, o, pull)
        if room < travel + 0.02:
            opening = room - 0.02
            if opening < MIN_DRAWER_OPENING_M:
                return (f"its travel is blocked: {blocker} stands {100 * room:.0f} cm in front of it "
                        f"(at least {100 * MIN_DRAWER_OPENING_M:.0f} cm of opening are needed)")
            q0 = float(np.clip(0.0, art.lower, art.upper))
            fraction = (abs(q0 - art.lower) + opening) / (art.upper - art.lower) if travel > 0 else fraction
            fraction = float(min(fraction, DRAWER_TARGET_FRACTION))
        placements, others = _drawer_placements(ctx, o, fraction)
        if not placements:
            return None
        return TaskSpec(task_id=f"open_close_{o.id}", type="open_close", description=f"open the {o.name}",
                        target_object_id=o.id, joint_target_fraction=round(fraction, 4),
                        difficulty=_difficulty(0), priority=0, robot_placements=placements,
                        placement_alternatives=others)
    return _door_task(ctx, o)


# doors: opened by 60 deg, else by the widest of 45 and 30 deg whose handle arc a base pose
# reaches (less when something stands in the swing); a door that cannot swing 30 deg gets no task
DOOR_TARGETS_RAD = tuple(np.deg2rad(a) for a in (60.0, 45.0, 30.0))
MIN_DOOR_OPENING_RAD = np.deg2rad(30.0)
DOOR_BASE_MIN_DISTANCE_M = 0.35  # the base's centre at least this far from the handle's arc (x-y)


def _door_task(ctx: _Context, o: SceneObject) -> TaskSpec | None | str:
    """A hinged door (scene/doors.py) is opened by the first of DOOR_TARGETS_RAD whose handle
    arc (closed, half way, open) a base pose reaches, the base outside what the door and its
    handle sweep (doors.swept_rects) and DOOR_BASE_MIN_DISTANCE_M from the arc; at most as far as its swing is free (5 deg short of what stands in it; no task
    below MIN_DOOR_OPENING_RAD)."""
    objects = list(ctx.by_id.values())
    dr = door(o, objects, ctx.floor_z)
    room, blocker = swing_room(dr, objects, DOOR_TARGETS_RAD[0])
    free = room if blocker is None else room - np.deg2rad(5.0)
    if free < MIN_DOOR_OPENING_RAD - 1e-9:
        return (f"its swing is blocked: {blocker} stands in it after {np.rad2deg(room):.0f} deg "
                f"(at least {np.rad2deg(MIN_DOOR_OPENING_RAD):.0f} deg are needed)")
    art = o.articulation
    assert art is not None
    for angle in sorted({min(a, free) for a in DOOR_TARGETS_RAD}, reverse=True):
        q_target = dr.target_q(angle)
        points = np.array([dr.handle_at(q) for q in np.linspace(dr.q_closed, q_target, 3)])
        swept = swept_rects(dr, q_target, DRAWER_BASE_MARGIN_M)
        placements: dict[str, RobotPlacement] = {}
        others: dict[str, list[RobotPlacement]] = {}
        for name, spec in ROBOTS.items():
            obstacles = ctx.obstacles[name].with_rects(swept)
            found = _place_for_part(ctx, spec, points, o, obstacles, min_distance_m=DOOR_BASE_MIN_DISTANCE_M)
            if found:
                placements[name] = found[0]
                alternatives = _other_poses(ctx, spec, points, o, [obstacles], found[0], DOOR_BASE_MIN_DISTANCE_M)
                if alternatives:
                    others[name] = alternatives
            elif name == "franka":
                break
        if "franka" in placements:
            break
    else:
        return None
    fraction = (q_target - art.lower) / (art.upper - art.lower)
    return TaskSpec(task_id=f"open_close_{o.id}", type="open_close", description=f"open the {o.name}",
                    target_object_id=o.id, joint_target_fraction=round(float(fraction), 4),
                    difficulty=_difficulty(1), priority=0, robot_placements=placements,
                    placement_alternatives=others)


def _closing(o: SceneObject, opening: TaskSpec) -> TaskSpec:
    """The task that closes what `opening` opens: it starts where the opening ends and ends closed
    (the joint at 0 clipped to its limits), from the same base pose."""
    art = o.articulation
    assert art is not None and opening.joint_target_fraction is not None
    closed = (float(np.clip(0.0, art.lower, art.upper)) - art.lower) / (art.upper - art.lower)
    return opening.model_copy(update={
        "task_id": f"close_{o.id}", "description": f"close the {o.name}", "joint_start_fraction": opening.joint_target_fraction,
        "joint_target_fraction": round(closed, 4)})


def _push(ctx: _Context, target: SceneObject) -> TaskSpec | str:
    """A push task for an object the gripper cannot hold (geniesim/push_tasks.py), or why none."""
    why = push_skip_reason(target, _mass_kg(target, ctx.physics.get(target.id)), bool(ctx.on_top_of.get(target.id)))
    if why is not None:
        return why
    if target.id in ctx.shelf_of:
        return "it stands inside open furniture (no room for the hand behind it under the board above)"
    supports = [s for s in ctx.supports_of.get(target.id, []) if _is_furniture(ctx.by_id[s], ctx.floor_z)]
    if not supports:
        return "it rests on no piece of furniture"
    support = ctx.by_id[supports[0]]
    goals = push_goals(target, support, [ctx.by_id[o] for o in ctx.on_top_of.get(support.id, [])])
    if not goals:
        return "no free straight path along its sides on its support"
    half = 0.5 * np.asarray(target.extents_m, dtype=float)
    rot = matrix_np(target.orientation_wxyz)
    for goal, u in goals:
        pos = np.asarray(target.position_m, dtype=float)
        back = float(np.abs(rot.T @ u) @ half) + 0.03  # the hand's spot behind the pushed face
        points = np.array([pos, [goal.center_m[0], goal.center_m[1], pos[2]], pos - back * u])
        placements = _placements(ctx, points, support, goal.surface_z_m)
        if placements:
            return push_task(target, goal, support, placements)
    return "out of reach: no robot base pose reaches the object, its goal and the spot behind it"


def _push_in(ctx: _Context, target: SceneObject) -> TaskSpec | str:
    """A push further back on its shelf for a thing standing in open furniture
    (push_tasks.shelf_push_goal), or why none."""
    if (heavy := too_heavy_to_push(_mass_kg(target, ctx.physics.get(target.id)))) is not None:
        return heavy
    furniture = ctx.shelves[ctx.shelf_of[target.id]]
    support = ctx.by_id[furniture.id]
    level = furniture.level_at(target.aabb_min_m[2])
    if level is None:
        return f"nothing to stand on: no shelf of the {support.name} at its height"
    front = matrix_np(support.orientation_wxyz)[:, furniture.front_axis] * furniture.front_sign
    occupants = [ctx.by_id[o] for o in furniture.contents if furniture.level_at(ctx.by_id[o].aabb_min_m[2]) == level]
    got = shelf_push_goal(target, support, front, furniture.back_inner_m, level.z_m, occupants)
    if isinstance(got, str):
        return got
    goal, u = got
    pos = np.asarray(target.position_m, dtype=float)
    half = float(np.abs(matrix_np(target.orientation_wxyz).T @ u) @ (0.5 * np.asarray(target.extents_m, dtype=float)))
    points = np.array([pos, [goal.center_m[0], goal.center_m[1], pos[2]], pos - (half + 0.03) * u])
    placements = _placements(ctx, points, support, level.z_m, (furniture, level), reach_scaled=False)
    if placements:
        return shelf_push_task(target, goal, support, placements)
    return f"out of reach: no robot base pose in front of the {support.name} reaches the object and its goal"


def task_family(task: TaskSpec, target: SceneObject, into_container: bool = False) -> str:
    """The family a task belongs to: pick_place, place_in (a pick_place whose goal is inside a
    container: `into_container`), stack, or open_/close_ drawer or door (a prismatic or revolute
    joint; closing when the task starts the part open)."""
    if task.type == "pick_place" and into_container:
        return "place_in"
    if task.type != "open_close":
        return task.type
    verb = "open" if task.joint_start_fraction is None else "close"
    art = target.articulation
    return f"{verb}_door" if art is not None and art.type == "revolute" else f"{verb}_drawer"


def families_of(tasks: Sequence[TaskSpec], by_id: dict[str, SceneObject],
                physics: dict[str, ObjectPhysics]) -> dict[str, str]:
    """Each task's family (`task_family`), keyed by task id in the tasks' order; a pick_place is
    place_in when its goal's support is a container (simready.containers.is_container) or a
    drawer tray (scene/drawers.py)."""
    out = {}
    for t in tasks:
        goal = by_id.get(t.goal.support_object_id) if t.goal is not None else None
        into = goal is not None and (is_container(goal, physics.get(goal.id))
                                     or tray_of(goal, list(by_id.values())) is not None)
        out[t.task_id] = task_family(t, by_id[t.target_object_id], into)
    return out


def suggest_tasks(objects: Sequence[SceneObject], physics: dict[str, ObjectPhysics],
                  relations: Sequence[Relation]) -> list[TaskSpec]:
    """Tasks for the scene, sorted by priority (1 = first)."""
    return plan_tasks(objects, physics, relations).tasks


@dataclass(frozen=True)
class TaskPlan:
    tasks: list[TaskSpec]
    skipped: list[SkippedObject]  # free and articulated objects that got no task, with the reason


def plan_tasks(objects: Sequence[SceneObject], physics: dict[str, ObjectPhysics],
               relations: Sequence[Relation], caps: TaskCaps = TaskCaps()) -> TaskPlan:  # noqa: B008 (frozen)
    """Tasks for the scene, sorted by priority (1 = first), and why other candidates got none."""
    by_id = {o.id: o for o in objects}
    supports_of: dict[str, list[str]] = defaultdict(list)
    on_top_of: dict[str, list[str]] = defaultdict(list)
    adjacent: dict[str, set[str]] = defaultdict(set)
    for r in relations:
        if r.relation == "on":
            supports_of[r.source].append(r.target)
            on_top_of[r.target].append(r.source)
        elif r.relation == "adjacent":
            adjacent[r.source].add(r.target)
            adjacent[r.target].add(r.source)
    floor_z = floor_height_m(objects)
    shelves = open_furniture(objects, skip=lambda o: is_container(o, physics.get(o.id)))
    ctx = _Context(by_id, physics, supports_of, on_top_of, adjacent, floor_z,
                   {name: Obstacles(objects, floor_z, spec.height_m) for name, spec in ROBOTS.items()},
                   shelves, {o: f.id for f in shelves.values() for o in f.contents},
                   [o for o in objects if o.sim_role.is_dynamic])
    ctx.stacked = stacked(ctx.free, physics)  # as the simulation starts them (sim/scene_builder.py)
    tasks: list[TaskSpec] = []
    skipped: dict[str, SkippedObject] = {}
    per_object: dict[str, int] = defaultdict(int)
    for o in objects:
        if o.sim_role.is_dynamic and (why := pick_skip_reason(o, physics.get(o.id))) is not None:
            skipped[o.id] = SkippedObject(object_id=o.id, family="pick_place", reason=why)
    pickable = []
    for o in objects:
        if is_pickable(o, physics.get(o.id)):
            if (why := _cannot_take(ctx, o)) is not None:
                skipped[o.id] = SkippedObject(object_id=o.id, family="pick_place", reason=why)
            else:
                pickable.append(o)
    n_pick = 0
    for o in pickable:
        if n_pick >= caps.pick_place:
            skipped[o.id] = SkippedObject(object_id=o.id, family="pick_place",
                                          reason=f"the scene's cap of {caps.pick_place} pick_place tasks was reached")
            continue
        t = _pick_place(ctx, o)
        if isinstance(t, str):
            skipped[o.id] = SkippedObject(object_id=o.id, family="pick_place", reason=t)
            continue
        tasks.append(t)
        per_object[o.id] += 1
        n_pick += 1
    # second tasks of a target, each goal support used once: into a container, then a stack
    for cap, suggest, eligible in (
            (caps.place_in, _place_in, lambda o: True),
            (caps.stack, _stack, lambda o: o.has_affordance("Stackable") or physics_box(o, physics))):
        used: set[str] = set()
        for o in pickable:
            if len(used) >= cap:
                break
            if per_object[o.id] >= MAX_TASKS_PER_OBJECT or not eligible(o):
                continue
            if (t := suggest(ctx, o, used)) is not None:
                tasks.append(t)
                per_object[o.id] += 1
                used.add(t.goal.support_object_id)
    n_push = 0
    for o in objects:  # what the gripper cannot hold (too wide) is pushed instead
        why = skipped.get(o.id)
        if why is None or not why.reason.startswith("too wide for the gripper"):
            continue
        if n_push >= caps.push:
            skipped[o.id] = SkippedObject(object_id=o.id, family="push", reason=f"{why.reason}; the scene's cap of "
                                          f"{caps.push} push tasks was reached")
            continue
        t = _push(ctx, o)
        if isinstance(t, TaskSpec):
            tasks.append(t)
            n_push += 1
        else:
            skipped[o.id] = SkippedObject(object_id=o.id, family="push", reason=f"{why.reason}; not pushed: {t}")
    # things in open furniture pushed further back on their shelf: what has no task yet first (a
    # book packed in its row), then the others, each object in the scene's order
    n_in = 0
    for o in sorted((o for o in objects if o.id in ctx.shelf_of), key=lambda o: per_object[o.id] > 0):
        if n_in >= caps.push_in or per_object[o.id] >= MAX_TASKS_PER_OBJECT:
            continue
        t = _push_in(ctx, o)
        if isinstance(t, TaskSpec):
            tasks.append(t)
            per_object[o.id] += 1
            n_in += 1
        elif o.id in skipped:
            skipped[o.id] = skipped[o.id].model_copy(update={"reason": f"{skipped[o.id].reason}; not pushed in: {t}"})
    n_open = 0
    for o in objects:
        if o.articulation is None and not o.sim_role.is_articulated:
            continue
        if n_open >= caps.open_close:
            skipped[o.id] = SkippedObject(object_id=o.id, family="open_close",
                                          reason=f"the scene's cap of {caps.open_close} open_close tasks was reached")
            continue
        t = _open_close(ctx, o)
        if isinstance(t, TaskSpec):
            tasks += [t, _closing(o, t)]
            n_open += 1
        else:
            skipped[o.id] = SkippedObject(object_id=o.id, family="open_close",
                                          reason=t or "out of reach: no robot base pose reaches its handle")
    n_into = sum(1 for t in tasks if "_into_" in t.task_id)
    for opening in [t for t in tasks if t.type == "open_close" and t.joint_start_fraction is None]:
        drawer = by_id[opening.target_object_id]
        if n_into >= caps.place_in or drawer.articulation is None or drawer.articulation.type != "prismatic":
            continue
        if (t := _into_drawer(ctx, drawer, opening, pickable, per_object)) is not None:
            tasks.append(t)
            per_object[t.target_object_id] += 1
            n_into += 1
    for t in tasks:
        skipped.pop(t.target_object_id, None)
    tasks.sort(key=lambda t: (_TYPE_RANK[t.type], _DIFFICULTY.index(t.difficulty), t.joint_start_fraction is not None,
                             t.task_id))
    return TaskPlan([t.model_copy(update={"priority": i + 1}) for i, t in enumerate(tasks)],
                    sorted(skipped.values(), key=lambda k: k.object_id))


def physics_box(o: SceneObject, physics: dict[str, ObjectPhysics]) -> bool:
    """Box-shaped colliders stack stably even without a Stackable affordance."""
    ph = physics.get(o.id)
    return ph is not None and ph.collider.value == "box"
