"""Free objects a manifest puts in one place (two pens crossed on a desk, a glasses case sunk into
a book): the lighter starts resting on the heavier. One rule for the task stage
(geniesim/tasks.py: what rests on another can be taken, what lies under another cannot) and for
the simulation (sim/scene_builder.py starts the lighter lifted so).

MuJoCo pushes interpenetrating light bodies apart violently (a 9 g pen reached 400 m/s on the
corpus), and exactly crossed boxes give it a contact without a frame (a fatal error); the scene
stage warns about such overlaps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.geniesim.geometry import box_overlap_m
from blueprint_pipeline.geniesim.spatial_index import candidate_pairs
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.records import Scene, SceneObject
from blueprint_pipeline.simready.containers import is_container
from blueprint_pipeline.simready.records import ObjectPhysics

OVERLAP_RESOLVE_M = 0.002  # free objects interpenetrating deeper than this start stacked instead
GAP_M = 0.001  # a lifted object's bottom above the other's top


@dataclass(frozen=True)
class Stacked:
    """Where interpenetrating free objects start (`resolve_overlaps`)."""

    lifts: dict[str, float]  # object id -> how far it starts above the manifest's pose (metres)
    under: dict[str, str]  # object id -> an object that starts resting on it

    def rests_on_another(self, object_id: str) -> bool:
        return object_id in self.lifts


def resolve_overlaps(objects: list[SceneObject], masses: dict[str, float]) -> Stacked:
    """Of each pair of `objects` whose boxes interpenetrate deeper than OVERLAP_RESOLVE_M, the
    lighter (by `masses`; equal masses: the smaller id) is lifted so that its bottom is GAP_M above
    the other's top; repeated until nothing overlaps (at most 10 rounds)."""
    if len(objects) < 2:
        return Stacked({}, {})
    pos = {o.id: np.array(o.position_m, dtype=float) for o in objects}
    rot = {o.id: matrix_np(o.orientation_wxyz) for o in objects}
    ext = {o.id: np.asarray(o.extents_m, dtype=float) for o in objects}
    half_h = {o.id: 0.5 * float(np.abs(rot[o.id][2, :]) @ ext[o.id]) for o in objects}
    lifts: dict[str, float] = {}
    under: dict[str, str] = {}
    lo = np.array([o.aabb_min_m for o in objects], dtype=float)
    hi = np.array([o.aabb_max_m for o in objects], dtype=float)
    pairs = candidate_pairs(lo, hi, 0.0)
    for _ in range(10):
        moved = False
        for i, j in pairs:
            a, b = objects[int(i)].id, objects[int(j)].id
            if box_overlap_m(pos[a], rot[a], ext[a], pos[b], rot[b], ext[b]) <= OVERLAP_RESOLVE_M:
                continue
            up, down = (a, b) if (masses.get(a, 0.0), a) < (masses.get(b, 0.0), b) else (b, a)
            z = pos[down][2] + half_h[down] + half_h[up] + GAP_M
            if z > pos[up][2]:
                lifts[up] = lifts.get(up, 0.0) + z - pos[up][2]
                pos[up][2] = z
                under.setdefault(down, up)
                moved = True
        if not moved:
            break
    return Stacked(lifts, under)


def stacked(objects: list[SceneObject], physics: Mapping[str, ObjectPhysics]) -> Stacked:
    """`resolve_overlaps` of the objects dynamic in their physics records, containers left out
    (what stands in a container overlaps its box), by their masses."""
    solids = [o for o in objects if (ph := physics.get(o.id)) is not None and ph.is_dynamic
              and not is_container(o, ph)]
    return resolve_overlaps(solids, {o.id: physics[o.id].mass_kg for o in solids})


def lifted_scene(scene: Scene, physics: Mapping[str, ObjectPhysics]) -> Scene:
    """The scene with every object `stacked` lifts raised by its lift (position and box), as the
    simulation starts it: for exports that place the objects themselves (the Genie Sim bundle)."""
    lifts = stacked(list(scene.objects), physics).lifts
    if not lifts:
        return scene

    def up(o: SceneObject) -> SceneObject:
        dz = lifts.get(o.id, 0.0)
        if not dz:
            return o
        return o.model_copy(update={"position_m": (*o.position_m[:2], o.position_m[2] + dz),
                                    "aabb_min_m": (*o.aabb_min_m[:2], o.aabb_min_m[2] + dz),
                                    "aabb_max_m": (*o.aabb_max_m[:2], o.aabb_max_m[2] + dz)})

    return scene.model_copy(update={"objects": tuple(up(o) for o in scene.objects)})
