"""Per-episode domain randomisation, drawn from a generator keyed by (scene, stage, task, index, seed).

Drawn in a fixed order so episode i of a run is reproducible on its own:
1. every free object's mass and friction, uniformly within its physics record's DR ranges
   (inertia scaled with the mass);
2. the target's start pose: xy jitter within +-`jitter_m` and yaw within +-`yaw_rad`, redrawn
   (up to 50 times) until its footprint stays on its support and 1 cm away from the other objects;
3. the distractors (`jitter_distractors`, a stream of its own, `distractor_rng`): every other free
   object standing alone on a piece of furniture's top (not on a shelf inside open furniture, not
   in or on a free object, nothing standing on it, not within 1 cm of the target or the task's goal
   support) moved within +-1.5 cm and turned within +-10 deg (EpisodeOptions.distractor_jitter_m,
   distractor_yaw_rad), redrawn
   (up to DISTRACTOR_DRAWS times) until its footprint stays on its support and 1 cm from every
   other object where they stand now, else left where it is;
4. when rendering (`prepare_rendering`, a stream of its own, `visual_rng`): the episode's look
   (sim/appearance.py: camera pose, lights, colours, texture scale), unless the run turns visual
   randomisation off.

The arm's start configuration (`randomize_arm_start`) comes from a stream of its own (`arm_rng`),
so it leaves the draws above as they were: every arm joint uniformly within +-`range_rad`
(EpisodeOptions.arm_start_rad, 0.1 rad by default) of where the task starts it (home; a closing
task: where its opening ends), inside the joint limits less 0.02 rad, redrawn (up to
ARM_START_DRAWS times) until the whole arm clears the scene (scene_check.SceneCheck.start_pose); when
no draw does, the nominal configuration is kept and the episode says so (`start_arm_fallback`).
The goal spot (`draw_goal`, pick_place off shelves) also has a stream of its own (`goal_rng`): the
task's goal rectangle (the object's footprint + 3 cm a side) moved by up to +-`jitter_m`
(EpisodeOptions.goal_jitter_m, 5 cm) in x and y, redrawn (up to GOAL_DRAWS times) until the whole
rectangle lies on the support's top and clear of every object standing above the surface; else
the task's rectangle. The episode falls back to the task's rectangle too when no plan reaches the
drawn one.

The planners seed their grasp IK from the nominal start (`q_seed`), so the drawn start changes the
approach, not the arm's posture at the grasp: seeded from the drawn start, the IK found other
postures, and 2 of 4 warehouse episodes blew up at the release and UR10 grasps met the furniture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import GoalRegion
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.seeding import item_rng
from blueprint_pipeline.sim.appearance import randomize_visuals, set_shadows
from blueprint_pipeline.sim.scene_builder import SimScene

STAGE_NAME = "episodes"


def _drawn(draw: int) -> tuple:
    """The key parts of a start drawn again (EpisodeOptions.start_draw; engine.START_DRAWS): none
    for the first draw, so that every episode's first start is what it always was."""
    return ("start_draw", int(draw)) if draw else ()


def episode_rng(scene_id: str, task_id: str, seed: int, episode_index: int, draw: int = 0) -> np.random.Generator:
    """The episode's stream by the project's one recipe (`seeding.item_rng`): the item is
    (task, episode index), the user seed last."""
    return item_rng(scene_id, STAGE_NAME, task_id, int(episode_index), int(seed), *_drawn(draw))


ARM_START_DRAWS = 20
ARM_LIMIT_MARGIN_RAD = 0.02


def arm_rng(scene_id: str, task_id: str, seed: int, episode_index: int, draw: int = 0) -> np.random.Generator:
    """The stream of the episode's arm start (`seeding.item_rng`, a stage name of its own)."""
    return item_rng(scene_id, "arm_start", task_id, int(episode_index), int(seed), *_drawn(draw))


def randomize_arm_start(data: mujoco.MjData, ix, refuse: Callable[[np.ndarray], str | None],
                        rng: np.random.Generator, range_rad: float) -> tuple[np.ndarray, bool]:
    """Move the arm (qpos and the servos' set-points) to a drawn start near its configuration now
    (module docstring); `refuse(q)` says why the arm at q meets the scene, or None. Returns the
    offset applied and whether every draw was refused (then nothing is moved)."""
    q0 = data.qpos[ix.arm_qadr].copy()
    if range_rad <= 0.0:
        return np.zeros_like(q0), False
    lo, hi = ix.lower + ARM_LIMIT_MARGIN_RAD, ix.upper - ARM_LIMIT_MARGIN_RAD
    for _ in range(ARM_START_DRAWS):
        q = np.clip(q0 + rng.uniform(-range_rad, range_rad, len(q0)), np.minimum(lo, q0), np.maximum(hi, q0))
        if refuse(q) is None:
            data.qpos[ix.arm_qadr] = q
            data.act[ix.arm_actadr] = q
            data.qvel[ix.arm_vadr] = 0.0
            return q - q0, False
    return np.zeros_like(q0), True


GOAL_DRAWS = 20


def goal_rng(scene_id: str, task_id: str, seed: int, episode_index: int, draw: int = 0) -> np.random.Generator:
    """The stream of the episode's goal spot (`seeding.item_rng`, a stage name of its own)."""
    return item_rng(scene_id, "goal_spot", task_id, int(episode_index), int(seed), *_drawn(draw))


def draw_goal(goal: GoalRegion, support_pos_m, support_rot: np.ndarray, support_size_m,
              blockers: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator,
              jitter_m: float) -> tuple[GoalRegion, tuple[float, float]] | None:
    """A goal rectangle moved within +-`jitter_m` that lies on the support's (oriented) top and
    clear of the `blockers`' xy boxes (module docstring), with the offset; None when no draw fits."""
    if jitter_m <= 0.0:
        return None
    half = 0.5 * np.asarray(goal.size_m, dtype=float)
    corners = np.array([[sx * half[0], sy * half[1]] for sx in (-1, 1) for sy in (-1, 1)])
    top_half = 0.5 * np.abs(np.asarray(support_size_m, dtype=float))
    for _ in range(GOAL_DRAWS):
        offset = rng.uniform(-jitter_m, jitter_m, 2)
        centre = np.asarray(goal.center_m[:2], dtype=float) + offset
        pts = np.column_stack([centre + corners, np.full(4, goal.surface_z_m)])
        local = (pts - np.asarray(support_pos_m, dtype=float)) @ support_rot  # into the support's frame
        if np.any(np.abs(local[:, :2]) > top_half[:2]):
            continue
        lo, hi = centre - half, centre + half
        if any(np.all(lo < b_hi[:2]) and np.all(b_lo[:2] < hi) for b_lo, b_hi in blockers):
            continue
        moved = goal.model_copy(update={"center_m": (float(centre[0]), float(centre[1]), goal.center_m[2])})
        return moved, (float(offset[0]), float(offset[1]))
    return None


@dataclass
class Randomization:
    target_offset_m: tuple[float, float] = (0.0, 0.0)
    target_yaw_rad: float = 0.0
    mass_kg: dict[str, float] = field(default_factory=dict)
    friction: dict[str, float] = field(default_factory=dict)
    fallback: bool = False  # no draw satisfied the footprint checks; nominal pose kept


def footprint_aabb(pos_m: np.ndarray, rot: np.ndarray, size_m) -> tuple[np.ndarray, np.ndarray]:
    half = np.abs(rot) @ (0.5 * np.asarray(size_m, dtype=float))
    return pos_m - half, pos_m + half


def footprint_on_top(pos_m: np.ndarray, rot: np.ndarray, size_m, sup) -> bool:
    """Whether the box's footprint lies 1 cm inside the support's top, in the support's own frame
    (a turned cart's world box reaches far beyond its top)."""
    half = 0.5 * np.asarray(size_m, dtype=float)
    corners = np.array([[sx * half[0], sy * half[1], 0.0] for sx in (-1, 1) for sy in (-1, 1)]) @ rot.T + pos_m
    local = (corners - np.asarray(sup.position_m)) @ matrix_np(sup.orientation_wxyz)
    return bool(np.all(np.abs(local[:, :2]) <= 0.5 * np.asarray(sup.extents_m[:2]) - 0.01))


def _gap(lo_a, hi_a, lo_b, hi_b) -> float:
    return float(np.max(np.maximum(lo_a[:2] - hi_b[:2], lo_b[:2] - hi_a[:2])))


LIFTED_DROP_M = 0.001  # a lifted target drawn clear of what it rested on starts this far above its manifest pose


def apply_randomization(sim: SimScene, data: mujoco.MjData, target_id: str, rng: np.random.Generator,
                        jitter_m: float = 0.08, yaw_rad: float = np.pi / 4) -> Randomization:
    """Randomise `sim.model` (restored to nominal first) and the target's pose in `data.qpos`."""
    model = sim.model
    sim.restore_nominal()
    out = Randomization()
    for oid in sim.dynamic_ids:
        ranges = sim.physics[oid].randomization
        b = sim.body_id(oid)
        mass = float(rng.uniform(*ranges.mass_kg))
        model.body_inertia[b] = sim.nominal_body_inertia[b] * mass / sim.nominal_body_mass[b]
        model.body_mass[b] = mass
        mu = float(rng.uniform(*ranges.static_friction))
        model.geom_friction[sim.object_geom_ids(oid), 0] = mu  # a hollow container's walls too
        out.mass_kg[oid], out.friction[oid] = mass, mu

    by_id = sim.scene.by_id()
    size = sim.physics[target_id].collider_size_m
    adr = sim.free_qpos_adr(target_id)
    pos0 = data.qpos[adr:adr + 3].copy()
    quat0 = data.qpos[adr + 3:adr + 7].copy()
    if target_id in sim.lifted:
        # it started resting on another object the manifest put in its place (geniesim/overlaps.py),
        # perhaps tipped over it: drawn clear of it, it stands as the manifest says, on its support
        # (a 9 g pen moved off another kept its height, fell 1.4 cm onto the desk and spun at
        # 240 rad/s: sim_unstable)
        pos0 = np.array(by_id[target_id].position_m, dtype=float) + np.array([0.0, 0.0, LIFTED_DROP_M])
        quat0 = np.array(by_id[target_id].orientation_wxyz, dtype=float)
    support = sim.support_of.get(target_id)
    sup = by_id[support] if support else None
    others = [footprint_aabb(np.array(by_id[o].position_m), matrix_np(by_id[o].orientation_wxyz),
                             sim.physics[o].collider_size_m) for o in sim.dynamic_ids if o != target_id]
    best = None
    for _ in range(50):
        dx, dy = rng.uniform(-jitter_m, jitter_m, 2)
        yaw = float(rng.uniform(-yaw_rad, yaw_rad))
        qyaw = np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)])
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, qyaw, quat0)
        pos = pos0 + np.array([dx, dy, 0.0])
        lo, hi = footprint_aabb(pos, matrix_np(quat), size)
        on_support = sup is None or footprint_on_top(pos, matrix_np(quat), size, sup)
        clearance = min((_gap(lo, hi, olo, ohi) for olo, ohi in others), default=np.inf)
        if on_support and clearance >= 0.01:
            best = (pos, quat, dx, dy, yaw)
            break
    if best is None:
        out.fallback = True
    else:
        pos, quat, dx, dy, yaw = best
        data.qpos[adr:adr + 3] = pos
        data.qpos[adr + 3:adr + 7] = quat
        out.target_offset_m, out.target_yaw_rad = (float(dx), float(dy)), yaw
    return out


DISTRACTOR_DRAWS = 10
DISTRACTOR_CLEARANCE_M = 0.01


def distractor_rng(scene_id: str, task_id: str, seed: int, episode_index: int, draw: int = 0) -> np.random.Generator:
    """The stream of the episode's distractor poses (`seeding.item_rng`, a stage name of its own)."""
    return item_rng(scene_id, "distractors", task_id, int(episode_index), int(seed), *_drawn(draw))


def jitter_distractors(sim: SimScene, data: mujoco.MjData, keep: set[str], rng: np.random.Generator,
                       jitter_m: float, yaw_rad: float) -> dict[str, list[float]]:
    """Move the distractors in `data.qpos` (module docstring, item 3); `keep`: the objects the task
    works with (target, goal support), never moved and kept clear of. Returns the moves made, by
    object: [dx, dy, yaw]."""
    if jitter_m <= 0.0 and yaw_rad <= 0.0:
        return {}
    by_id = sim.scene.by_id()
    carriers = {s for s in sim.support_of.values() if s is not None}
    boxes = {}
    for oid in sim.dynamic_ids:
        adr = sim.free_qpos_adr(oid)
        boxes[oid] = footprint_aabb(data.qpos[adr:adr + 3].copy(), matrix_np(data.qpos[adr + 3:adr + 7]),
                                    sim.physics[oid].collider_size_m)
    fixed = set(sim.fixed_ids) | set(sim.articulated_ids)
    moved: dict[str, list[float]] = {}
    for oid in sim.dynamic_ids:
        support = sim.support_of.get(oid)
        if (oid in keep or oid in carriers or support not in fixed or support in sim.shelves
                or sim.is_container(oid) or any(_gap(*boxes[oid], *boxes[k]) < DISTRACTOR_CLEARANCE_M
                                                  for k in keep if k in boxes)):
            continue
        adr = sim.free_qpos_adr(oid)
        pos0, quat0 = data.qpos[adr:adr + 3].copy(), data.qpos[adr + 3:adr + 7].copy()
        size = sim.physics[oid].collider_size_m
        for _ in range(DISTRACTOR_DRAWS):
            dx, dy = rng.uniform(-jitter_m, jitter_m, 2)
            yaw = float(rng.uniform(-yaw_rad, yaw_rad))
            quat = np.zeros(4)
            mujoco.mju_mulQuat(quat, np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]), quat0)
            pos = pos0 + np.array([dx, dy, 0.0])
            rot = matrix_np(quat)
            box = footprint_aabb(pos, rot, size)
            if not footprint_on_top(pos, rot, size, by_id[support]):
                continue
            if any(_gap(*box, *b) < DISTRACTOR_CLEARANCE_M for o, b in boxes.items() if o != oid):
                continue
            data.qpos[adr:adr + 3], data.qpos[adr + 3:adr + 7] = pos, quat
            boxes[oid] = box
            moved[oid] = [float(dx), float(dy), yaw]
            break
    return moved


def visual_rng(scene_id: str, task_id: str, seed: int, episode_index: int) -> np.random.Generator:
    """The stream of the episode's look (`seeding.item_rng`, a stage name of its own)."""
    return item_rng(scene_id, "visual", task_id, int(episode_index), int(seed))


def prepare_rendering(sim: SimScene, task_id: str, seed: int, episode_index: int, shadows: bool,
                      visuals: bool) -> None:
    """Before an episode's renderer is made: shadows on or off, and, with `visuals`, the episode's
    drawn look (appearance.randomize_visuals: camera, lights, colours, texture scale) from its own
    stream, so no physics draw changes. Call after the physics randomisation (which restores the
    nominal model first)."""
    set_shadows(sim.model, shadows)
    if visuals:
        randomize_visuals(sim.model, visual_rng(sim.scene.header.scene_id, task_id, seed, episode_index),
                          sim.material_jitter, "scene_cam")
