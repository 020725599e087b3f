"""A small table-top scene built from records (a table, a few boxes and a mug, one pick_place task).

Used by the tests and by the benchmark when no example scene is given. Physics values are written
out explicitly here (they stand in for what the simready stage would produce).
"""

from __future__ import annotations

from blueprint_pipeline.contract import GENIESIM_TASK_CONFIG, SCENE_NORMALIZED, SIMREADY_PHYSICS
from blueprint_pipeline.geniesim.records import GoalRegion, RobotPlacement, TaskConfig, TaskSpec
from blueprint_pipeline.geniesim.robots import robot_config
from blueprint_pipeline.robots.description import FRANKA, UR10
from blueprint_pipeline.scene.records import Scene, SceneHeader, SceneObject, SimRole
from blueprint_pipeline.simready.records import (
    ColliderShape,
    ObjectPhysics,
    PhysicsFile,
    RandomizationRanges,
)

TABLE_TOP_Z_M = 0.75


def _box_inertia(mass_kg: float, size_m) -> tuple[float, float, float]:
    x, y, z = size_m
    return (mass_kg * (y * y + z * z) / 12, mass_kg * (x * x + z * z) / 12, mass_kg * (x * x + y * y) / 12)


def _object(oid: str, category: str, role: SimRole, centre_m, size_m) -> SceneObject:
    half = [s / 2 for s in size_m]
    return SceneObject(
        id=oid, name=oid, category=category, sim_role=role, position_m=tuple(centre_m),
        orientation_wxyz=(1.0, 0.0, 0.0, 0.0), extents_m=tuple(size_m),
        aabb_min_m=tuple(c - h for c, h in zip(centre_m, half)),
        aabb_max_m=tuple(c + h for c, h in zip(centre_m, half)),
    )


def _physics(obj: SceneObject, mass_kg: float, friction: float, collider: ColliderShape,
             dynamic: bool) -> ObjectPhysics:
    size = obj.extents_m
    volume = size[0] * size[1] * size[2]
    return ObjectPhysics(
        object_id=obj.id, is_dynamic=dynamic, material="wood" if not dynamic else "plastic",
        mass_kg=mass_kg, density_kg_m3=mass_kg / volume, static_friction=friction,
        dynamic_friction=friction * 0.8, restitution=0.2, collider=collider, collider_size_m=size,
        center_of_mass_m=(0.0, 0.0, 0.0), inertia_diag_kg_m2=_box_inertia(mass_kg, size),
        contact_offset_m=0.002, rest_offset_m=0.0, graspable=dynamic, graspable_reason="test scene",
        surface_roughness_um=1.0,
        randomization=RandomizationRanges(mass_kg=(mass_kg * 0.8, mass_kg * 1.2),
                                          static_friction=(friction * 0.8, friction * 1.2),
                                          dynamic_friction=(friction * 0.64, friction * 0.96),
                                          restitution=(0.1, 0.3), com_noise_m=(0.0, 0.0, 0.0)),
    )


def tabletop_scene(with_clutter: bool = True, target_xy=(0.5, -0.15), goal_xy=(0.5, 0.2)) -> tuple[Scene, PhysicsFile, TaskConfig]:
    """A 1.0 x 1.2 m table (top at 0.75 m), a 6x6x10 cm target box, optionally a mug and two boxes."""
    z = TABLE_TOP_Z_M
    table = _object("table", "table", SimRole.STATIC, (0.55, 0.0, z / 2), (0.9, 1.2, z))
    target = _object("box_target", "box", SimRole.MANIPULABLE_OBJECT, (*target_xy, z + 0.05), (0.06, 0.06, 0.10))
    objects = [table, target]
    phys = [_physics(table, 40.0, 0.6, ColliderShape.BOX, False), _physics(target, 0.3, 0.7, ColliderShape.BOX, True)]
    if with_clutter:
        mug = _object("mug", "mug", SimRole.MANIPULABLE_OBJECT, (0.42, 0.02, z + 0.05), (0.08, 0.08, 0.10))
        box_a = _object("box_a", "box", SimRole.CLUTTER, (0.66, -0.02, z + 0.04), (0.08, 0.05, 0.08))
        box_b = _object("box_b", "box", SimRole.CLUTTER, (0.38, -0.32, z + 0.03), (0.10, 0.06, 0.06))
        objects += [mug, box_a, box_b]
        phys += [_physics(mug, 0.35, 0.6, ColliderShape.CYLINDER, True), _physics(box_a, 0.25, 0.6, ColliderShape.BOX, True),
                 _physics(box_b, 0.2, 0.6, ColliderShape.BOX, True)]
    header = SceneHeader(scene_id="tabletop", manifest_version="test", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objects))
    scene = Scene(header=header, objects=tuple(objects))
    physics = PhysicsFile(scene_id="tabletop", estimator="table", objects={p.object_id: p for p in phys})
    placement = {"franka": RobotPlacement(robot="franka", base_position_m=(0.0, 0.0, z),
                                          base_orientation_wxyz=(1.0, 0.0, 0.0, 0.0), reach_m=FRANKA.reach_m),
                 "ur10": RobotPlacement(robot="ur10", base_position_m=(-0.25, 0.0, z),
                                        base_orientation_wxyz=(1.0, 0.0, 0.0, 0.0), reach_m=UR10.reach_m)}
    task = TaskSpec(task_id="pick_place_box_target", type="pick_place",
                    description="pick up the box and place it in the marked area of the table",
                    target_object_id="box_target",
                    goal=GoalRegion(support_object_id="table", center_m=(*goal_xy, z), size_m=(0.15, 0.15), surface_z_m=z),
                    difficulty="easy", priority=1, robot_placements=placement)
    config = TaskConfig(scene_id="tabletop", robots={d.name: robot_config(d) for d in (FRANKA, UR10)},
                        tasks=(task,))
    return scene, physics, config


def write_inputs(out_url: str, scene: Scene, physics: PhysicsFile, config: TaskConfig) -> None:
    """Write the three inputs of the episodes stage where the earlier stages would."""
    from blueprint_pipeline import storage
    from blueprint_pipeline.scene.io import write_normalized
    from blueprint_pipeline.simready.io import write_physics

    write_normalized(SCENE_NORMALIZED.url(out_url), scene.header, scene.objects)
    write_physics(SIMREADY_PHYSICS.url(out_url), physics)
    storage.atomic_write_text(GENIESIM_TASK_CONFIG.url(out_url), config.model_dump_json(by_alias=True, indent=2))


def drawer_scene(base_xy=(0.0, 0.0), travel_m: float = 0.3, damping: float = 5.0,
                 fraction: float = 0.8, blocked: bool = False) -> tuple[Scene, PhysicsFile, TaskConfig]:
    """A 0.4 x 0.4 x 0.6 m drawer unit on the floor whose drawer slides out along -y (towards the
    robot's side, not onto its base), a mug standing on it, and one open_close task; the Franka
    stands on the floor at `base_xy`, facing +x. `blocked` puts a low 60 kg crate on the floor
    0.16 m in front of the drawer (below the handle), which stops it at about half its target."""
    from blueprint_pipeline.scene.records import Articulation

    unit = _object("drawer", "drawer", SimRole.ARTICULATED_FURNITURE, (0.45, 0.6, 0.3), (0.4, 0.4, 0.6))
    unit = unit.model_copy(update={"articulation": Articulation(type="prismatic", axis_local=(0.0, -1.0, 0.0),
                                                                 lower=0.0, upper=travel_m, damping=damping)})
    mug = _object("mug", "mug", SimRole.MANIPULABLE_OBJECT, (0.45, 0.7, 0.65), (0.08, 0.08, 0.10))
    objects = [unit, mug]
    phys = [_physics(unit, 8.0, 0.4, ColliderShape.BOX, False), _physics(mug, 0.35, 0.6, ColliderShape.CYLINDER, True)]
    if blocked:
        crate = _object("crate", "crate", SimRole.CLUTTER, (0.45, 0.2, 0.075), (0.3, 0.08, 0.15))
        objects.append(crate)
        phys.append(_physics(crate, 60.0, 0.8, ColliderShape.BOX, True))
    header = SceneHeader(scene_id="drawer", manifest_version="test", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objects))
    scene = Scene(header=header, objects=tuple(objects))
    physics = PhysicsFile(scene_id="drawer", estimator="table", objects={p.object_id: p for p in phys})
    placement = {"franka": RobotPlacement(robot="franka", base_position_m=(*base_xy, 0.0),
                                          base_orientation_wxyz=(1.0, 0.0, 0.0, 0.0), reach_m=FRANKA.reach_m)}
    task = TaskSpec(task_id="open_close_drawer", type="open_close", description="open the drawer",
                    target_object_id="drawer", joint_target_fraction=fraction, difficulty="easy", priority=1,
                    robot_placements=placement)
    config = TaskConfig(scene_id="drawer", robots={"franka": robot_config(FRANKA)}, tasks=(task,))
    return scene, physics, config
