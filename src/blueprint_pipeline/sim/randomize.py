"""Per-episode domain randomisation, drawn from a generator keyed by (scene, stage, task, index, seed).

Drawn in a fixed order so episode i of a run is reproducible on its own:
1. every free object's mass and friction, uniformly within its physics record's DR ranges
   (inertia scaled with the mass);
2. the target's start pose: xy jitter within +-`jitter_m` and yaw within +-`yaw_rad`, redrawn
   (up to 50 times) until its footprint stays on its support and 1 cm away from the other objects;
3. when rendering: scene-camera position (+-2 cm) and light intensity (+-20%).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.seeding import item_rng
from blueprint_pipeline.sim.scene_builder import SimScene

STAGE_NAME = "episodes"


def episode_rng(scene_id: str, task_id: str, seed: int, episode_index: int) -> np.random.Generator:
    """The episode's stream by the project's one recipe (`seeding.item_rng`): the item is
    (task, episode index), the user seed last."""
    return item_rng(scene_id, STAGE_NAME, task_id, int(episode_index), int(seed))


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


def _gap(lo_a, hi_a, lo_b, hi_b) -> float:
    return float(np.max(np.maximum(lo_a[:2] - hi_b[:2], lo_b[:2] - hi_a[:2])))


def apply_randomization(sim: SimScene, data: mujoco.MjData, target_id: str, rng: np.random.Generator,
                        jitter_m: float = 0.08, yaw_rad: float = np.pi / 4, render: bool = False) -> Randomization:
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
        on_support = sup is None or (lo[0] >= sup.aabb_min_m[0] + 0.01 and hi[0] <= sup.aabb_max_m[0] - 0.01
                                     and lo[1] >= sup.aabb_min_m[1] + 0.01 and hi[1] <= sup.aabb_max_m[1] - 0.01)
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
    if render:
        cam = model.camera("scene_cam").id
        model.cam_pos[cam] = model.cam_pos[cam] + rng.uniform(-0.02, 0.02, 3)
        if model.nlight:
            model.light_diffuse[:] = model.light_diffuse * rng.uniform(0.8, 1.2)
    return out
