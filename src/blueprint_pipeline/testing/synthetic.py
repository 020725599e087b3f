"""Synthetic normalised scenes of any size, for the export benchmark and tests.

Rooms of 4 m x 4 m in a row-major grid; each room holds a table (every third one turned by 30
degrees with its objects), a shelf with books inside, and small objects standing on the table.
Every draw comes from a numpy Generator seeded from (scene id, stage, user seed).
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.rotations import box_aabb, yaw_quat
from blueprint_pipeline.scene.records import Affordance, Scene, SceneHeader, SceneObject, SimRole
from blueprint_pipeline.seeding import item_rng

ROOM_M = 4.0


def _obj(oid: str, category: str, role: SimRole, centre: np.ndarray, extents: tuple[float, float, float],
         yaw: float, affordances: tuple[str, ...] = ()) -> SceneObject:
    q = yaw_quat(yaw)
    lo, hi = box_aabb(centre, q, extents)
    return SceneObject(
        id=oid, name=oid, category=category, sim_role=role, description=f"a {category}",
        affordances=tuple(Affordance(type=a) for a in affordances),
        position_m=tuple(float(v) for v in centre), orientation_wxyz=q,
        extents_m=extents, aabb_min_m=tuple(float(v) for v in lo), aabb_max_m=tuple(float(v) for v in hi),
    )


def synthetic_scene(n_objects: int, scene_id: str = "synthetic", seed: int = 0) -> Scene:
    """A scene of exactly `n_objects` objects (rooms of about 10 objects each)."""
    rng = item_rng(scene_id, "geniesim-synthetic", seed)
    objs: list[SceneObject] = []
    per_row = max(1, int(np.ceil(np.sqrt(max(n_objects, 1) / 10))))
    room = 0
    while len(objs) < n_objects:
        ox, oy = (room % per_row) * ROOM_M, (room // per_row) * ROOM_M
        yaw = np.deg2rad(30.0) if room % 3 == 2 else 0.0
        c, s = np.cos(yaw), np.sin(yaw)
        table_c = np.array([ox + 1.5 + rng.uniform(-0.2, 0.2), oy + 1.5 + rng.uniform(-0.2, 0.2), 0.375])
        room_objs = [
            _obj(f"r{room}_table", "table", SimRole.STATIC, table_c, (1.2, 0.8, 0.75), yaw, ("Supportable",)),
            _obj(f"r{room}_shelf", "shelf", SimRole.STATIC, np.array([ox + 3.6, oy + 0.5, 0.9]),
                 (0.4, 0.8, 1.8), 0.0, ("Supportable",)),
        ]
        for b in range(2):
            room_objs.append(_obj(f"r{room}_book{b}", "book", SimRole.MANIPULABLE_OBJECT,
                                  np.array([ox + 3.6, oy + 0.3 + 0.1 * b, 1.0]), (0.2, 0.03, 0.25), 0.0,
                                  ("Graspable",)))
        for k in range(6):  # small objects in a row across the table, in the table's frame
            lx, ly = -0.45 + 0.18 * k, rng.uniform(-0.2, 0.2)
            h = float(rng.uniform(0.06, 0.14))
            centre = table_c + np.array([c * lx - s * ly, s * lx + c * ly, 0.375 + h / 2])
            cat = ("mug", "box", "can")[k % 3]
            room_objs.append(_obj(f"r{room}_{cat}{k}", cat, SimRole.MANIPULABLE_OBJECT, centre,
                                  (0.06, 0.06, h), yaw, ("Graspable",)))
        objs.extend(room_objs[: n_objects - len(objs)])
        room += 1
    header = SceneHeader(scene_id=scene_id, manifest_version="1.0.0", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objs))
    return Scene(header=header, objects=tuple(objs))


def synthetic_physics(scene: Scene, density_kg_m3: float = 600.0) -> dict:
    """Physics records for a synthetic or test scene: mass from box volume x density, box colliders,
    graspable when dynamic and narrow enough for an 8 cm gripper. Not an estimator - for tests and
    the benchmark only (the simready stage owns real estimates)."""
    from blueprint_pipeline.simready.records import ColliderShape, ObjectPhysics, RandomizationRanges

    out = {}
    for o in scene.objects:
        ex, ey, ez = o.extents_m
        mass = max(density_kg_m3 * ex * ey * ez, 0.01)
        dynamic = o.sim_role.is_dynamic
        graspable = dynamic and min(ex, ey) <= 0.075 and mass <= 2.0
        out[o.id] = ObjectPhysics(
            object_id=o.id, is_dynamic=dynamic, material="wood", mass_kg=mass, density_kg_m3=density_kg_m3,
            static_friction=0.5, dynamic_friction=0.4, restitution=0.1, collider=ColliderShape.BOX,
            collider_size_m=o.extents_m,
            center_of_mass_m=(0.0, 0.0, 0.0),
            inertia_diag_kg_m2=(mass * (ey**2 + ez**2) / 12, mass * (ex**2 + ez**2) / 12, mass * (ex**2 + ey**2) / 12),
            contact_offset_m=0.002, rest_offset_m=0.0, graspable=graspable,
            graspable_reason="test physics: dynamic, fits an 8 cm gripper" if graspable else "test physics: not graspable",
            surface_roughness_um=1.6,
            randomization=RandomizationRanges(mass_kg=(0.9 * mass, 1.1 * mass), static_friction=(0.4, 0.6),
                                              dynamic_friction=(0.3, 0.5), restitution=(0.05, 0.15),
                                              com_noise_m=(0.005, 0.005, 0.005)))
    return out


def small_kitchen(scene_id: str = "small_kitchen") -> Scene:
    """A hand-placed kitchen (z-up, metres) whose relations a person can state:
    two mugs and a plate on the counter (the plate's `on` is also stated in the manifest), three
    books in the shelf, two cereal boxes turned 30 degrees side by side on the table, a chair next
    to the table, a fridge with a door hinge, a wall behind the counter and the floor."""
    from blueprint_pipeline.scene.records import Articulation, Relationship

    s30 = np.deg2rad(30.0)
    spec = [
        # id, category, role, centre, extents, yaw, affordances
        ("floor", "floor", SimRole.SCENE_SHELL, (3.0, 2.5, -0.01), (6.0, 5.0, 0.02), 0.0, ()),
        ("wall_back", "wall", SimRole.SCENE_SHELL, (3.0, -0.05, 1.25), (6.0, 0.1, 2.5), 0.0, ()),
        ("counter", "counter", SimRole.STATIC, (1.6, 0.4, 0.45), (2.4, 0.6, 0.9), 0.0, ("Supportable",)),
        ("mug_1", "mug", SimRole.MANIPULABLE_OBJECT, (1.2, 0.55, 0.95), (0.07, 0.07, 0.1), 0.0, ("Graspable",)),
        ("mug_2", "mug", SimRole.MANIPULABLE_OBJECT, (1.32, 0.55, 0.95), (0.07, 0.07, 0.1), 0.0, ("Graspable",)),
        ("plate", "plate", SimRole.MANIPULABLE_OBJECT, (2.3, 0.4, 0.91), (0.22, 0.22, 0.02), 0.0, ()),
        ("shelf", "shelf", SimRole.STATIC, (5.0, 0.3, 0.9), (0.8, 0.4, 1.8), 0.0, ("Supportable",)),
        ("book_1", "book", SimRole.MANIPULABLE_OBJECT, (4.8, 0.3, 1.0), (0.03, 0.2, 0.25), 0.0, ("Graspable",)),
        ("book_2", "book", SimRole.MANIPULABLE_OBJECT, (4.9, 0.3, 1.0), (0.03, 0.2, 0.25), 0.0, ("Graspable",)),
        ("book_3", "book", SimRole.MANIPULABLE_OBJECT, (5.0, 0.3, 1.0), (0.03, 0.2, 0.25), 0.0, ("Graspable",)),
        ("table", "table", SimRole.STATIC, (3.0, 3.2, 0.375), (1.2, 0.8, 0.75), 0.0, ("Supportable",)),
        ("cereal_1", "cereal box", SimRole.MANIPULABLE_OBJECT, (2.7, 2.95, 0.85), (0.06, 0.19, 0.2), s30, ("Graspable",)),
        ("cereal_2", "cereal box", SimRole.MANIPULABLE_OBJECT, (2.78, 3.0, 0.85), (0.06, 0.19, 0.2), s30, ("Graspable",)),
        ("chair", "chair", SimRole.STATIC, (3.0, 3.95, 0.45), (0.45, 0.45, 0.9), 0.0, ()),
        ("fridge", "fridge", SimRole.ARTICULATED_APPLIANCE, (0.45, 2.5, 0.9), (0.8, 0.7, 1.8), 0.0, ("Openable",)),
    ]
    objs = []
    for oid, cat, role, c, ext, yaw, aff in spec:
        o = _obj(oid, cat, role, np.asarray(c, dtype=float), ext, yaw, aff)
        if oid == "plate":
            o = o.model_copy(update={"relationships": (Relationship(type="on_top_of", subject_id="plate", object_id="counter"),)})
        if oid == "fridge":
            o = o.model_copy(update={"articulation": Articulation(type="revolute", axis_local=(0.0, 0.0, 1.0),
                                                                  lower=0.0, upper=1.9)})
        objs.append(o)
    header = SceneHeader(scene_id=scene_id, manifest_version="1.0.0", environment_type="kitchen",
                         source_frame="z_up", source_meters_per_unit=1.0, object_count=len(objs))
    return Scene(header=header, objects=tuple(objs))
