"""Write the native bundle: per-object folders, interaction data, a background scene, task files.

Task files follow Genie Sim's data-collection format. Each pick_place task names two task-related
objects, as shipped tasks place onto a second object: the target (in a SAMPLE workspace holding its
current pose) and a goal pad - a 5 mm slab the size of the task's goal region, lying on the
supporting surface at the goal (its own asset under objects/goal_region/). The pad stands in for
the furniture as the place target because Genie Sim's layout computes a 2 mm signed-distance grid
of every task-related object, which for a 2.4 m counter is about 160 million voxels; the furniture
itself stays in the background scene under the pad. Task targets are left out of the background;
each task lists the other tasks' targets as fix_objects at their poses, so every scene is whole.
The robot is Genie Sim's G2 at the task's `g2` base placement.

What Genie Sim's planner needs of a task (rules in `rules.py`, checked by `check.py`):
- grasps for either arm: the pick stage sets disable_upside_down and flip_grasp (as all of Genie
  Sim's shipped pick stages do) and every grasp is written with both jaw senses (grasps.py);
- grasp_offset 0: the pickle's translations are the fingertip centres (Genie Sim's default would
  push the gripper 3 cm further along the approach);
- place_with_origin_orientation false: the target's `bottom` label (not its origin, the box centre)
  goes onto the goal pad's top label, so the object's bottom lands on the surface;
- colliders: every Aligned.usd mesh carries UsdPhysics collision (Genie Sim's server adds physics
  only to objects it adds itself; the background references these files) and background.usda has
  lights (the server creates lights only from a task's `lights` entry, which we leave out);
- robot.arm "dual", the G2 ready pose as init_arm_pose, task_name and init_scene_text.
Prim names and object ids come from `usd.names.prim_names`, the usd stage's own mapping.
An object with a stored mesh (simready/meshes.py) gets that mesh in its Aligned.usd (`meshes`), so
the bundle shows the same geometry as usd/objects/*.usda and the simulator.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pxr import Gf, Sdf, UsdGeom, Vt

from blueprint_pipeline.geniesim.native import layout
from blueprint_pipeline.geniesim.native.grasps import grasps_for
from blueprint_pipeline.geniesim.overlaps import lifted_scene
from blueprint_pipeline.geniesim.native.mesh import (
    MeshData,
    box_centre,
    box_mesh,
    cylinder_mesh,
    is_round,
    load_usd_mesh,
    object_mesh,
    write_aligned_usd,
)
from blueprint_pipeline.geniesim.records import TaskConfig, TaskSpec
from blueprint_pipeline.scene.floor import floor_footprint, floor_height_m, room_bounds
from blueprint_pipeline.scene.records import Scene, SceneObject, SimRole
from blueprint_pipeline.simready.meshes import ObjectMesh
from blueprint_pipeline.simready.records import ObjectPhysics, RimRecord
from blueprint_pipeline.usd.names import prim_names

NATIVE_FORMAT_VERSION = "geniesim-3.x-datacollection/1"
VISUAL_PRIM = "/Object/Visual"  # where the usd stage puts an object's visual geometry
PLACE_ARROW_M = 0.08  # length of the place direction arrows (Genie Sim normalises them)
# The G2 ready pose every shipped G2 task of Genie Sim (commit 0e659ad) starts from: waist, head, both
# arms (left idx2x, right idx6x) and the grippers' outer joints; joints left out keep their defaults.
G2_READY_POSE = {
    "idx01_body_joint1": -0.83423, "idx02_body_joint2": 1.2172, "idx03_body_joint3": 0.10025,
    "idx04_body_joint4": 0.0, "idx05_body_joint5": 0.0,
    "idx11_head_joint1": 0.0, "idx12_head_joint2": 0.0, "idx13_head_joint3": 0.11464,
    "idx21_arm_l_joint1": 0.739033, "idx22_arm_l_joint2": -0.717023, "idx23_arm_l_joint3": -1.524419,
    "idx24_arm_l_joint4": -1.537612, "idx25_arm_l_joint5": 0.27811, "idx26_arm_l_joint6": -0.925845,
    "idx27_arm_l_joint7": -0.839257, "idx41_gripper_l_outer_joint1": 0.85,
    "idx61_arm_r_joint1": -0.739033, "idx62_arm_r_joint2": -0.717023, "idx63_arm_r_joint3": 1.524419,
    "idx64_arm_r_joint4": -1.537612, "idx65_arm_r_joint5": -0.27811, "idx66_arm_r_joint6": -0.925845,
    "idx67_arm_r_joint7": 0.839257, "idx81_gripper_r_outer_joint1": 0.85,
}
G2_ROBOT_CFG = "G2_omnipicker_fixed_dual.json"
PICK_PARAMS = {"arm": "auto", "disable_upside_down": True, "flip_grasp": True, "grasp_offset": 0.0,
               "pick_up_distance": 0.1}
PLACE_PARAMS = {"arm": "auto", "place_with_origin_orientation": False}
G2_CAMERAS = ["/G2/head_link3/head_front_Camera", "/G2/gripper_r_base_link/Right_Camera",
              "/G2/gripper_l_base_link/Left_Camera"]


@dataclass
class BundleReport:
    objects: int = 0
    graspable: int = 0
    tasks: list[str] = field(default_factory=list)
    skipped_tasks: list[dict[str, str]] = field(default_factory=list)
    mesh_sources: dict[str, int] = field(default_factory=dict)


GENERATED_FLOOR_ID = "generated_floor"
FLOOR_MARGIN_M = 1.5  # round the objects' footprint, without a room: the G2's base disc and more
FLOOR_THICKNESS_M = 0.02


def with_floor(scene: Scene) -> Scene:
    """The scene with a floor slab (GENERATED_FLOOR_ID) when it has no floor object: Genie Sim's
    robot stands on a surface of the background (its base disc wholly over it), while a manifest
    need not list its floor (the episodes stage simulates an endless floor plane). Of 25 corpus
    scenes, those without a floor object all failed `blueprint geniesim check` on their robot bases
    before. The slab's top is the floor height (scene.floor); it covers the objects' footprint and
    FLOOR_MARGIN_M round it, and the room's footprint when the header gives a room."""
    if not scene.objects or floor_footprint(scene.objects) is not None:
        return scene
    top = floor_height_m(scene.objects)
    lo = np.min([o.aabb_min_m[:2] for o in scene.objects], axis=0) - FLOOR_MARGIN_M
    hi = np.max([o.aabb_max_m[:2] for o in scene.objects], axis=0) + FLOOR_MARGIN_M
    room = room_bounds(scene)
    if room is not None:
        lo, hi = np.minimum(lo, room[0][:2]), np.maximum(hi, room[1][:2])
    low = (float(lo[0]), float(lo[1]), top - FLOOR_THICKNESS_M)
    high = (float(hi[0]), float(hi[1]), top)
    taken, fid = {o.id for o in scene.objects}, GENERATED_FLOOR_ID
    while fid in taken:
        fid += "_"
    floor = SceneObject(id=fid, name="Floor", category="floor", sim_role=SimRole.STATIC,
                        description="generated for Genie Sim: the manifest lists no floor",
                        position_m=tuple((a + b) / 2 for a, b in zip(low, high)), orientation_wxyz=(1.0, 0.0, 0.0, 0.0),
                        extents_m=tuple(b - a for a, b in zip(low, high)), aabb_min_m=low, aabb_max_m=high)
    return scene.model_copy(update={"objects": (*scene.objects, floor)})


def _rim(ph: ObjectPhysics | None) -> RimRecord | None:
    """The rim of the object's mesh (simready/rims.py), if it has one."""
    return ph.mesh.rim if ph is not None and ph.mesh is not None else None


def _antipodal(ph: ObjectPhysics | None) -> tuple:
    """The antipodal grasps of the object's mesh (simready/antipodal.py), if it has a mesh."""
    return ph.mesh.antipodal if ph is not None and ph.mesh is not None else ()


def goal_pad_key(task: TaskSpec) -> str:
    """The id a task's goal pad is named from (its name comes from the shared prim-name mapping)."""
    return f"goal_{task.task_id}"


def object_names(scene: Scene, tasks: list[TaskSpec]) -> dict[str, str]:
    """Prim name / Genie Sim object_id per scene object id (exactly the usd stage's names) and per
    goal pad key (names no scene object has)."""
    names = prim_names([o.id for o in scene.objects])
    names.update(prim_names([goal_pad_key(t) for t in tasks], reserved=set(names.values())))
    return names


def _mesh_for(o: SceneObject, ph: ObjectPhysics | None, asset_root: Path | None,
              object_usd: Path | None = None, stored: ObjectMesh | None = None) -> MeshData:
    """The object's stored mesh (simready), else the usd stage's visual mesh of the object (it
    already read GLB/OBJ/... assets), else a USD asset of the object, else a box or cylinder of
    its extents."""
    if stored is not None and ph is not None and ph.mesh is not None:
        return object_mesh(stored, ph.mesh.asset)
    if object_usd is not None and object_usd.is_file():
        mesh = load_usd_mesh(object_usd, o.extents_m, under=VISUAL_PRIM)
        if mesh is not None:
            return mesh
    if o.asset and o.asset.path and asset_root is not None and o.asset.path.lower().endswith((".usd", ".usda", ".usdc")):
        path = (asset_root / o.asset.path).resolve()
        if path.is_relative_to(asset_root.resolve()) and path.is_file():
            mesh = load_usd_mesh(path, o.extents_m)
            if mesh is not None:
                return mesh
    collider = ph.collider.value if ph else None
    return cylinder_mesh(o.extents_m) if is_round(o.category, collider) else box_mesh(o.extents_m)


def _object_parameters(o: SceneObject, ph: ObjectPhysics | None, name: str) -> dict[str, Any]:
    mass = ph.mass_kg if ph else (o.physics.mass_kg if o.physics and o.physics.mass_kg else None)
    params: dict[str, Any] = {
        "object_id": name,
        "upAxis": ["z"],
        "size": [float(v) for v in o.extents_m],
        "scale": 1.0,
        "material": (ph.material if ph else None) or (o.physics.material_type if o.physics else None) or "unknown",
        "model_type": "convexDecomposition",
        "add_rigid_body": bool(ph.is_dynamic) if ph else o.sim_role.is_dynamic,
        "type": "rigid_body",
    }
    if mass is not None:
        params["mass"] = float(mass)
    if ph is not None:
        params["static_friction"] = ph.static_friction
        params["dynamic_friction"] = ph.dynamic_friction
    return params


def _place_label(xyz: np.ndarray) -> list[dict[str, list[float]]]:
    return [{"xyz": [round(float(v), 6) for v in xyz], "direction": [0.0, 0.0, -PLACE_ARROW_M]}]


GOAL_PAD_THICKNESS_M = 0.005
GOAL_PAD_MASS_KG = 0.05


def _write_goal_pad(root: Path, scene_id: str, task: TaskSpec, pad_id: str) -> str:
    """The goal region as a thin slab asset; returns its folder (relative to the bundle root)."""
    sx, sy = task.goal.size_m
    size = (float(sx), float(sy), GOAL_PAD_THICKNESS_M)
    asset = layout.asset_id(scene_id, pad_id)
    folder = layout.object_dir("goal_region", asset)
    write_aligned_usd(root / folder / layout.ALIGNED_USD, box_mesh(size))
    _write_json(root / folder / layout.OBJECT_PARAMETERS, {
        "object_id": pad_id, "upAxis": ["z"], "size": list(size), "scale": 1.0,
        "mass": GOAL_PAD_MASS_KG, "material": "goal_marker", "model_type": "convexDecomposition",
        "add_rigid_body": False, "type": "rigid_body"})
    half = size[2] / 2
    _write_json(root / layout.interaction_dir(asset) / layout.INTERACTION, {"interaction": {
        "active": {"place": {"bottom": _place_label(np.array([0.0, 0.0, -half]))}},
        "passive": {"place": {"default": _place_label(np.array([0.0, 0.0, half]))}}}})
    return folder


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def _pose_entry(o: SceneObject) -> dict[str, list[float]]:
    return {"position": [float(v) for v in o.position_m], "quaternion": [float(v) for v in o.orientation_wxyz]}


def _resting_on(scene: Scene, o: SceneObject) -> str | None:
    """The id of the object `o` stands on: the highest top within 2 cm below its bottom whose
    footprint overlaps its own."""
    best, best_z = None, -np.inf
    for s in scene.objects:
        if s.id == o.id:
            continue
        top = s.aabb_max_m[2]
        overlap = all(s.aabb_min_m[k] < o.aabb_max_m[k] and o.aabb_min_m[k] < s.aabb_max_m[k] for k in (0, 1))
        if overlap and abs(o.aabb_min_m[2] - top) <= 0.02 and top > best_z:
            best, best_z = s.id, top
    return best


def _scene_text(scene: Scene, target: SceneObject, support: SceneObject, by_id: dict[str, SceneObject],
                on: dict[str, str]) -> str:
    where = by_id.get(on.get(target.id, ""))
    env = scene.header.environment_type or "indoor"
    text = f"The G2 robot stands in a {env} scene"
    if where is not None:
        text += f" at the {where.name}; the {target.name} is on the {where.name}"
    else:
        text += f"; the {target.name} is within reach"
    return text + f", and there is free space on the {support.name}."


def _task_json(scene: Scene, task: TaskSpec, dirs: dict[str, str], pad_dir: str, by_id: dict[str, SceneObject],
               physics: dict[str, ObjectPhysics], excluded: set[str], names: dict[str, str],
               on: dict[str, str]) -> dict[str, Any]:
    target, support = by_id[task.target_object_id], by_id[task.goal.support_object_id]
    t_id, pad_id = names[target.id], names[goal_pad_key(task)]
    half_h = (target.aabb_max_m[2] - target.aabb_min_m[2]) / 2
    pad_centre = [task.goal.center_m[0], task.goal.center_m[1], task.goal.surface_z_m + GOAL_PAD_THICKNESS_M / 2]
    tol = float(np.hypot(*task.goal.size_m) / 2)
    g2 = task.robot_placements["g2"]
    ph = physics.get(target.id)
    target_entry: dict[str, Any] = {"object_id": t_id, "data_info_dir": dirs[target.id] + "/", "workspace_id": f"pick_{t_id}"}
    if ph is not None:
        target_entry["mass"] = ph.mass_kg
    return {
        "task": layout.safe_name(task.task_id),
        "origin": {"position": [0.0, 0.0, 0.0], "quaternion": [1.0, 0.0, 0.0, 0.0]},
        "objects": {
            "task_related_objects": [
                target_entry,
                {"object_id": pad_id, "data_info_dir": pad_dir + "/", "workspace_id": f"goal_on_{names[support.id]}"},
            ],
            "scene_objects": [],
            "attach_objects": [],
            "fix_objects": [{"object_id": names[oid], "data_info_dir": dirs[oid] + "/", **_pose_entry(by_id[oid])}
                            for oid in sorted(excluded - {target.id})],
            "constraints": None,
        },
        "scene": {
            "scene_id": f"blueprint/{layout.safe_name(scene.header.scene_id)}",
            "scene_info_dir": f"scenes/{layout.safe_name(scene.header.scene_id)}/",
            "scene_usd": layout.scene_usd(scene.header.scene_id),
            "function_space_objects": {
                f"pick_{t_id}": {"poses": [_pose_entry(target)]},
                f"goal_on_{names[support.id]}": {"poses": [{"position": pad_centre, "quaternion": [1.0, 0.0, 0.0, 0.0]}]},
            },
        },
        "robot": {
            "arm": "dual", "robot_id": "G2", "robot_cfg": G2_ROBOT_CFG,
            "robot_init_pose": {"position": list(g2.base_position_m), "quaternion": list(g2.base_orientation_wxyz)},
            "init_arm_pose": dict(G2_READY_POSE),
        },
        "stages": [
            {"action": "pick", "action_description": {"english_action_text": f"pick up the {target.name}"},
             "active": {"object_id": "gripper", "primitive": None},
             "passive": {"object_id": t_id, "primitive": None},
             "extra_params": dict(PICK_PARAMS),
             "checker": [{"checker_name": "distance_to_target",
                          "params": {"object_id": t_id, "target_id": "gripper", "rule": "lessThan", "value": 0.08}}]},
            {"action": "place", "action_description": {"english_action_text": task.description},
             "active": {"object_id": t_id, "primitive": "bottom"},
             "passive": {"object_id": pad_id, "primitive": None},
             "extra_params": dict(PLACE_PARAMS),
             "checker": [{"checker_name": "distance_to_target",
                          "params": {"object_id": t_id, "target_id": pad_id, "rule": "lessThan", "value": round(tol, 4),
                                     "target_offset": {"frame": "world",
                                                       "position": [0.0, 0.0, round(GOAL_PAD_THICKNESS_M / 2 + half_h, 6)]}}}]},
            {"action": "reset", "active": {"object_id": "gripper", "primitive": None},
             "passive": {"object_id": "gripper", "primitive": None}, "extra_params": {"arm": "auto"}},
        ],
        "recording_setting": {"camera_list": G2_CAMERAS, "fps": 30, "num_of_episode": 1},
        "task_description": {"task_name": task.description, "english_task_name": task.description,
                             "init_scene_text": _scene_text(scene, target, support, by_id, on),
                             "difficulty": task.difficulty, "priority": task.priority,
                             "support_object": names[support.id]},
        "task_metric": {"filter_rules": [{
            "rule_name": "is_object_end_in_region",
            "params": {"objects": [t_id],
                       "region_center": [task.goal.center_m[0], task.goal.center_m[1], task.goal.surface_z_m + half_h],
                       "region_size": [task.goal.size_m[0], task.goal.size_m[1], 2 * half_h + 0.04]},
            "result_code": 1}]},
    }


LIGHTS = (  # (prim name, type, intensity, rotation about x then z in degrees)
    ("Dome", "DomeLight", 800.0, (0.0, 0.0)),
    ("Key", "DistantLight", 2500.0, (35.0, 30.0)),
)


def _write_lights(world: Sdf.PrimSpec) -> None:
    lights = Sdf.PrimSpec(world, "Lights", Sdf.SpecifierDef, "Xform")
    for name, type_name, intensity, (rx, rz) in LIGHTS:
        prim = Sdf.PrimSpec(lights, name, Sdf.SpecifierDef, type_name)
        Sdf.AttributeSpec(prim, "inputs:intensity", Sdf.ValueTypeNames.Float).default = intensity
        if rx or rz:
            Sdf.AttributeSpec(prim, "xformOp:rotateXYZ", Sdf.ValueTypeNames.Float3).default = Gf.Vec3f(rx, 0.0, rz)
            Sdf.AttributeSpec(prim, "xformOpOrder", Sdf.ValueTypeNames.TokenArray,
                              Sdf.VariabilityUniform).default = Vt.TokenArray(["xformOp:rotateXYZ"])


def _write_background(path: Path, scene: Scene, dirs: dict[str, str], excluded: set[str],
                      names: dict[str, str]) -> None:
    """Scene USD referencing the object files (their meshes carry the colliders), plus lights (Sdf
    authoring: the references are not composed here, which would open every object file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    layer = Sdf.Layer.CreateNew(str(path))
    layer.pseudoRoot.SetInfo("upAxis", UsdGeom.Tokens.z)
    layer.pseudoRoot.SetInfo("metersPerUnit", 1.0)
    world = Sdf.PrimSpec(layer, "World", Sdf.SpecifierDef, "Xform")
    layer.defaultPrim = "World"
    _write_lights(world)
    objects = Sdf.PrimSpec(world, "Objects", Sdf.SpecifierDef, "Scope")
    here = os.path.dirname(layout.scene_usd(scene.header.scene_id))
    order = Vt.TokenArray(["xformOp:translate", "xformOp:orient", "xformOp:scale"])
    for o in scene.objects:
        if o.id in excluded:
            continue
        prim = Sdf.PrimSpec(objects, names[o.id], Sdf.SpecifierDef, "Xform")
        w, qx, qy, qz = (float(v) for v in o.orientation_wxyz)
        for name, type_name, value in (
            ("xformOp:translate", Sdf.ValueTypeNames.Double3, Gf.Vec3d(*map(float, o.position_m))),
            ("xformOp:orient", Sdf.ValueTypeNames.Quatf, Gf.Quatf(w, qx, qy, qz)),
            ("xformOp:scale", Sdf.ValueTypeNames.Float3, Gf.Vec3f(1.0, 1.0, 1.0)),
        ):
            Sdf.AttributeSpec(prim, name, type_name).default = value
        Sdf.AttributeSpec(prim, "xformOpOrder", Sdf.ValueTypeNames.TokenArray, Sdf.VariabilityUniform).default = order
        prim.referenceList.Prepend(Sdf.Reference(os.path.relpath(f"{dirs[o.id]}/{layout.ALIGNED_USD}", here)))
    layer.Save()


def write_bundle(root: Path, scene: Scene, physics: dict[str, ObjectPhysics], task_config: TaskConfig,
                 asset_root: Path | None = None, stroke_m: float = 0.08,
                 object_usd: dict[str, Path] | None = None,
                 meshes: Mapping[str, ObjectMesh] | None = None) -> BundleReport:
    """Write the bundle under the local folder `root` (created); returns what was written.
    `object_usd` maps object ids to the usd stage's object files (their visual meshes are used);
    `meshes` maps object ids to their stored meshes (simready/meshes.py)."""
    object_usd = object_usd or {}
    meshes = meshes or {}
    scene = lifted_scene(with_floor(scene), physics)  # objects the manifest crosses start stacked, as simulated
    report = BundleReport()
    by_id = scene.by_id()
    sid = scene.header.scene_id
    pick_tasks = [t for t in task_config.tasks if t.type == "pick_place" and t.goal is not None]
    native_tasks = []
    for t in pick_tasks:
        target = by_id[t.target_object_id]
        if "g2" not in t.robot_placements:
            report.skipped_tasks.append({"task_id": t.task_id, "reason": "no G2 base pose reaches it"})
        elif not any(len(grasps_for(target.extents_m, round_shape, stroke_m, _rim(physics.get(target.id)),
                                    antipodal=_antipodal(physics.get(target.id)))[0])
                     for round_shape in (False, True)):
            report.skipped_tasks.append({"task_id": t.task_id, "reason": "no grasp fits the gripper (neither "
                                         "across the object nor, without a mesh with a rim, by its rim)"})
        else:
            native_tasks.append(t)
    excluded = {t.target_object_id for t in native_tasks}
    names = object_names(scene, native_tasks)
    on = {t.target_object_id: sup for t in native_tasks if (sup := _resting_on(scene, by_id[t.target_object_id]))}

    dirs: dict[str, str] = {}
    for o in scene.objects:
        ph = physics.get(o.id)
        asset = layout.asset_id(sid, names[o.id])
        folder = layout.object_dir(o.category, asset)
        dirs[o.id] = folder
        mesh = _mesh_for(o, ph, asset_root, object_usd.get(o.id), meshes.get(o.id))
        kind = mesh.source.split(":")[0]
        report.mesh_sources[kind] = report.mesh_sources.get(kind, 0) + 1
        write_aligned_usd(root / folder / layout.ALIGNED_USD, mesh)
        _write_json(root / folder / layout.OBJECT_PARAMETERS, _object_parameters(o, ph, names[o.id]))
        report.objects += 1

        graspable = ph.graspable if ph is not None else o.has_affordance("Graspable")
        stored = meshes.get(o.id)
        # object_mesh recentres the stored mesh on its box centre: the rim moves with it
        origin = None if stored is None else box_centre(stored.vertices)
        poses, widths = (grasps_for(o.extents_m, mesh.source == "cylinder", stroke_m, _rim(ph), origin, _antipodal(ph))
                         if graspable else (np.zeros((0, 4, 4)), np.zeros(0)))
        if not len(poses) and o.id not in excluded:
            continue
        half_z = o.extents_m[2] / 2
        passive: dict[str, Any] = {"place": {"default": _place_label(np.array([0.0, 0.0, half_z]))}}
        if len(poses):
            passive["grasp"] = {"default": layout.GRASP_FILE}
            report.graspable += 1
            gdir = root / layout.interaction_dir(asset) / "grasp_pose"
            gdir.mkdir(parents=True, exist_ok=True)
            with open(root / layout.interaction_dir(asset) / layout.GRASP_FILE, "wb") as f:
                pickle.dump({"grasp_pose": poses.astype(np.float64), "width": widths.astype(np.float64)}, f, protocol=4)
        interaction = {"interaction": {"active": {"place": {"bottom": _place_label(np.array([0.0, 0.0, -half_z]))}},
                                       "passive": passive}}
        _write_json(root / layout.interaction_dir(asset) / layout.INTERACTION, interaction)

    _write_background(root / layout.scene_usd(sid), scene, dirs, excluded, names)
    for t in native_tasks:
        pad_dir = _write_goal_pad(root, sid, t, names[goal_pad_key(t)])
        _write_json(root / layout.task_file(t.task_id),
                    _task_json(scene, t, dirs, pad_dir, by_id, physics, excluded, names, on))
        report.tasks.append(layout.task_file(t.task_id))
    _write_json(root / layout.BUNDLE_INFO, {
        "format": NATIVE_FORMAT_VERSION, "scene_id": sid, "objects": report.objects,
        "graspable_objects": report.graspable, "mesh_sources": report.mesh_sources,
        "tasks": report.tasks, "skipped_tasks": report.skipped_tasks,
        "usage": ("install into a Genie Sim assets folder (the one holding robot/) with `blueprint geniesim "
                  "install BUNDLE --assets DIR`, set SIM_ASSETS to DIR; task files are in tasks/"),
    })
    return report
