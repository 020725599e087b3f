"""The MuJoCo model of one scene: furniture, objects and a robot, built with `mujoco.MjSpec`.

What becomes what (from the normalised scene and its physics records; no defaults invented here):
- objects whose physics record says `is_dynamic` -> free bodies with the record's mass, diagonal
  inertia, centre of mass, friction and collider (box / sphere / cylinder / capsule from
  `collider_size_m`; a convex hull without a loaded mesh is approximated by its bounding box);
- articulated furniture with an `articulation` -> a body on a revolute or prismatic joint with its
  limits and damping, and a 2 x 2 x 10 cm bar handle: a prismatic one (a drawer) on the face it
  opens towards; a revolute one (a door) with its hinge, front and handle inferred by
  scene/doors.py, and a whole appliance or cabinet on a hinge split into its moving front
  panel and a fixed carcass (`obj:{id}:carcass`);
- every other simulated object -> a fixed collider at its pose; scene shells and backgrounds are
  left out (the floor plane stands in for them);
- open furniture (a static box with free objects standing inside it: a shelving unit, bookshelf
  or cabinet given as one box, scene/shelves.py) -> its boards, top, sides and back, open at the
  front; the objects on its shelves rest on its boards (`SimScene.shelves`, `shelf_level`);
- free objects that interpenetrate in the manifest start with the lighter one resting on the
  heavier (geniesim/overlaps.py `resolve_overlaps`, listed in `SimScene.lifted`);
- containers (free or fixed; bowls, baskets, bins, trays, pots, ... at least 12 cm wide, rules in
  sim/containers.py) -> an open-top hollow shell with the collider's outer extents instead of one
  solid collider, so what the scene puts inside them stays inside: the floor slab is the object's
  named collider (`SimScene.geom_name`, so a thing standing in the container touches that geom)
  and the walls are `obj:{id}:wall{k}` with the same contact parameters
  (`SimScene.object_geom_ids` lists all of an object's collision geoms).

Contact parameters (measured to hold grasped objects without slip or jitter, see REFERENCE 6b):
elliptic friction cone, impratio 10, condim 4 (sliding + torsional friction) on the gripper pads
and the target, pad friction (1.0, 0.02, 0.001) with priority over the object's (REFERENCE 6b used
condim 6; rolling friction made no measurable difference to slip or placement and costs a third
more constraint rows per contact, see robots/builder.py PAD_CONDIM),
solref (0.01, 1) and solimp (0.95, 0.99, 0.001, 0.5, 2) on pads and objects. With MuJoCo's
defaults (pyramidal cone, impratio 1, condim 3) held objects creep by millimetres per second.
Restitution is not modelled (damping ratio 1: contacts do not bounce).

Sleeping: resting free objects other than the episode's target may sleep (MuJoCo island
sleeping): they are not simulated until something touches them, which makes a cluttered scene
several times cheaper; the target and the robot never sleep, so their contacts are always
computed (`prepare_for_target`).

Time step: 1/480 s, so one 30 Hz frame is exactly 16 physics steps and recorded timestamps are
exactly k/30 s (the 2 ms step of the design would need 16.67 steps per frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import mujoco
import numpy as np

from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.rotations import matrix_np, matrix_to_quat
from blueprint_pipeline.scene.doors import Door, door
from blueprint_pipeline.scene.drawers import tray_of, tray_parts
from blueprint_pipeline.geniesim.placement import drawer_pull
from blueprint_pipeline.scene.floor import floor_height_m, room_bounds
from blueprint_pipeline.geniesim.overlaps import stacked
from blueprint_pipeline.robots import (
    ROBOT_CONTYPE,
    WORLD_CONAFFINITY,
    WORLD_CONTYPE,
    RobotDescription,
    RobotNames,
    add_home_key,
    add_robot,
    configure_options,
)
from blueprint_pipeline.robots.builder import CONTACT_SOLIMP, CONTACT_SOLREF, HIDDEN_GEOM_GROUP, PAD_CONDIM, set_home_key
from blueprint_pipeline.robots.description import RobotVisuals
from blueprint_pipeline.scene.records import Scene, SceneObject, SimRole
from blueprint_pipeline.scene.shelves import Level, OpenFurniture, open_furniture
from blueprint_pipeline.sim import mujoco_log
from blueprint_pipeline.sim.appearance import (
    LOOKS,
    TEXTURE_DIR,
    Look,
    Painter,
    add_far_floor,
    add_lights,
    drawn_floor_size,
    object_rgb,
)
from blueprint_pipeline.sim.mjcf import to_xml_exact
from blueprint_pipeline.sim.start_pose import clear_start
from blueprint_pipeline.sim.containers import shell_parts
from blueprint_pipeline.simready.containers import is_container
from blueprint_pipeline.simready.meshes import ObjectMesh
from blueprint_pipeline.simready.records import (
    ColliderShape,
    ObjectPhysics,
    PhysicsFile,
)

TIMESTEP_S = 1.0 / 480.0
FPS = 30
STEPS_PER_FRAME = 16  # TIMESTEP_S * STEPS_PER_FRAME == 1 / FPS exactly
SETTLE_S = 0.3
ARTICULATED_CONTYPE = 4  # collision bit of articulated furniture parts
# A hinge without damping in the manifest gets this much (N m s/rad, the example kitchen's
# doors'), and every hinge the dry friction of a household hinge (N m; the manifest has no field
# for it; about 0.5 N at a handle 60 cm out): without it a door nudged by the opening fingers
# swings on for ever. Drawers get neither.
DOOR_DAMPING_NMS = 0.5
DOOR_FRICTION_NM = 0.3
HANDLE_SIZE_M = (0.02, 0.02, 0.10)  # drawer handle bar: depth along the pull, width, height
SKIPPED_ROLES = (SimRole.SCENE_SHELL, SimRole.BACKGROUND)
_OBJECT_TORSION_ROLL = (0.005, 0.0001)  # torsional and rolling friction of free objects (rolling unused at condim 4)
# A sphere collider stands for fruit, balls and other round things that are never perfect balls on
# a rigid plane: with no rolling resistance a placed orange would roll for ever. Its contacts have
# condim 6 and a rolling-friction lever of 1 mm (rolling resistance coefficient ~0.03 for a 3 cm
# radius, soft fruit on a table; a tennis ball on a hard floor has about 0.01-0.02).
SPHERE_CONDIM = 6
SPHERE_ROLLING_M = 0.001


# model arrays the per-episode visual randomisation changes (appearance.randomize_visuals)
VISUAL_FIELDS = ("cam_pos", "cam_quat", "light_pos", "light_diffuse", "light_castshadow", "mat_rgba",
                 "mat_texrepeat", "geom_rgba")


@dataclass
class SimScene:
    """A compiled scene plus the names and nominal values episodes need."""

    model: mujoco.MjModel
    robot: RobotDescription
    names: RobotNames
    scene: Scene
    physics: dict[str, ObjectPhysics]
    dynamic_ids: list[str]  # free bodies, in recording order
    fixed_ids: list[str]  # fixed colliders
    articulated_ids: list[str]
    support_of: dict[str, str | None]  # dynamic object -> the object it rests on (None: floor)
    shelves: dict[str, OpenFurniture]  # fixed furniture modelled open, by id (scene/shelves.py)
    lifted: dict[str, float]  # free objects started higher than the manifest says (geniesim/overlaps.py)
    base_pos_m: np.ndarray
    base_quat_wxyz: np.ndarray
    spec: mujoco.MjSpec | None = None  # what `model` was compiled from, for `mjcf`
    material_jitter: dict[str, float] = field(default_factory=dict)  # material -> colour jitter (sim/appearance.py)
    robot_visuals: RobotVisuals | None = None  # the robot's meshes the model draws (robots/visuals.py), if any
    nominal_body_mass: np.ndarray = field(init=False)
    nominal_body_inertia: np.ndarray = field(init=False)
    nominal_geom_friction: np.ndarray = field(init=False)
    nominal_visuals: dict[str, np.ndarray] = field(init=False)  # what randomize_visuals changes
    nominal_sleep_policy: np.ndarray = field(init=False)
    scene_camera: object | None = field(default=None, init=False)  # camera.CameraChoice once chosen for a task

    @cached_property
    def mjcf(self) -> str:
        """The model as MJCF text at full precision (sim/mjcf.py), as episodes/scenes/<task>.xml
        holds it: it steps exactly as `model`. Made on first use: only the stage's process writes
        those files, and every worker making it for every scene it compiled cost 1.5 of the
        corpus's 54 CPU seconds."""
        return "" if self.spec is None else to_xml_exact(self.spec)[0]

    def __post_init__(self) -> None:
        self.nominal_body_mass = self.model.body_mass.copy()
        self.nominal_body_inertia = self.model.body_inertia.copy()
        self.nominal_geom_friction = self.model.geom_friction.copy()
        self.nominal_visuals = {k: getattr(self.model, k).copy() for k in VISUAL_FIELDS}
        self.nominal_sleep_policy = self.model.tree_sleep_policy.copy()

    def restore_nominal(self) -> None:
        self.model.body_mass[:] = self.nominal_body_mass
        self.model.body_inertia[:] = self.nominal_body_inertia
        self.model.geom_friction[:] = self.nominal_geom_friction
        for k, v in self.nominal_visuals.items():
            getattr(self.model, k)[:] = v

    @property
    def nominal_cam_pos(self) -> np.ndarray:
        return self.nominal_visuals["cam_pos"]

    def set_camera_pose(self, camera: str, pos_m, quat_wxyz) -> None:
        """Move a camera in the model and make that its nominal pose (what `restore_nominal`
        returns to between episodes)."""
        cam = self.model.camera(camera).id
        self.model.cam_pos[cam], self.model.cam_quat[cam] = pos_m, quat_wxyz
        self.nominal_visuals["cam_pos"][cam] = self.model.cam_pos[cam]
        self.nominal_visuals["cam_quat"][cam] = self.model.cam_quat[cam]

    @staticmethod
    def body_name(object_id: str) -> str:
        return f"obj:{object_id}"

    @staticmethod
    def geom_name(object_id: str) -> str:
        return f"obj:{object_id}:collider"

    @staticmethod
    def handle_geom_name(object_id: str) -> str:
        return f"obj:{object_id}:handle"

    @staticmethod
    def carcass_name(object_id: str) -> str:
        """The fixed carcass body of a whole appliance on a hinge, and its one geom."""
        return f"obj:{object_id}:carcass"

    def carcass_geom_id(self, object_id: str) -> int | None:
        """The fixed carcass geom of a whole appliance or cabinet on a hinge (None: it has none)."""
        try:
            return self.model.geom(self.carcass_name(object_id)).id
        except KeyError:
            return None

    @staticmethod
    def wall_geom_name(object_id: str, k: int) -> str:
        return f"obj:{object_id}:wall{k}"

    def is_container(self, object_id: str | None) -> bool:
        """Whether the object is built as a hollow container (a bowl, a basket, a tote, a drawer
        inside its carcass: scene/drawers.py)."""
        obj = self.scene.by_id().get(object_id) if object_id is not None else None
        if obj is None:
            return False
        if object_id in self.articulated_ids:
            return tray_of(obj, self.scene.objects) is not None
        return is_container(obj, self.physics.get(object_id))

    def shelf_level(self, object_id: str) -> Level | None:
        """The shelf an object inside open furniture stands on (None: it is not on a shelf)."""
        support = self.support_of.get(object_id)
        shelf = self.shelves.get(support) if support else None
        if shelf is None or object_id not in shelf.contents:
            return None
        return shelf.level_at(float(self.scene.by_id()[object_id].aabb_min_m[2]))

    def shelf_front(self, object_id: str) -> tuple[np.ndarray, float] | None:
        """The open front of the furniture an object stands in: its outward horizontal normal `n`
        and the plane n.x = c of its front face (None: the object is not on a shelf)."""
        if self.shelf_level(object_id) is None:
            return None
        support = self.scene.by_id()[self.support_of[object_id]]
        shelf = self.shelves[support.id]
        local = np.zeros(3)
        local[shelf.front_axis] = shelf.front_sign
        n = matrix_np(support.orientation_wxyz) @ local
        n[2] = 0.0
        if np.linalg.norm(n) < 0.5:
            return None
        n /= np.linalg.norm(n)
        return n, float(n @ np.asarray(support.position_m)) + 0.5 * float(shelf.extents_m[shelf.front_axis])

    def object_geom_ids(self, object_id: str) -> list[int]:
        """The named collider and, for a hollow container or open furniture, its walls, boards
        and panels; for a whole appliance on a hinge, its fixed carcass (not a drawer's or door's
        handle). Looked up once per object (by name, geom by geom: a meshed mug has 22), then
        kept on the scene; a new list each call."""
        ids = self.__dict__.setdefault("_object_geom_ids", {})
        if object_id not in ids:
            ids[object_id] = self._find_object_geom_ids(object_id)
        return list(ids[object_id])

    def _find_object_geom_ids(self, object_id: str) -> list[int]:
        b, first = self.body_id(object_id), self.geom_id(object_id)
        prefix = f"obj:{object_id}:wall"
        walls = [g for g in range(self.model.body_geomadr[b], self.model.body_geomadr[b] + self.model.body_geomnum[b])
                 if self.model.geom(g).name.startswith(prefix)]
        carcass = self.carcass_geom_id(object_id) if object_id in self.articulated_ids else None
        return [first, *walls] + ([carcass] if carcass is not None else [])

    def body_id(self, object_id: str) -> int:
        return self.model.body(self.body_name(object_id)).id

    def geom_id(self, object_id: str) -> int:
        return self.model.geom(self.geom_name(object_id)).id

    def free_qpos_adr(self, object_id: str) -> int:
        return int(self.model.jnt_qposadr[self.model.body_jntadr[self.body_id(object_id)]])

    def free_qvel_adr(self, object_id: str) -> int:
        return int(self.model.jnt_dofadr[self.model.body_jntadr[self.body_id(object_id)]])


def _collider(geom: mujoco.MjsGeom, phys: ObjectPhysics) -> None:
    sx, sy, sz = (max(float(v), 1e-3) for v in phys.collider_size_m)
    if phys.collider is ColliderShape.SPHERE:
        geom.type = mujoco.mjtGeom.mjGEOM_SPHERE
        geom.size = [min(sx, sy, sz) / 2, 0, 0]
    elif phys.collider is ColliderShape.CYLINDER:
        geom.type = mujoco.mjtGeom.mjGEOM_CYLINDER
        geom.size = [min(sx, sy) / 2, sz / 2, 0]
    elif phys.collider is ColliderShape.CAPSULE:
        r = min(sx, sy) / 2
        geom.type = mujoco.mjtGeom.mjGEOM_CAPSULE
        geom.size = [r, max(sz / 2 - r, 1e-3), 0]
    else:  # box, and convex hulls without a loaded mesh (their bounding box)
        geom.type = mujoco.mjtGeom.mjGEOM_BOX
        geom.size = [sx / 2, sy / 2, sz / 2]


def _add_mesh_geoms(spec: mujoco.MjSpec, body: mujoco.MjsBody, obj: SceneObject, mesh: ObjectMesh) -> list[mujoco.MjsGeom]:
    """A meshed object (simready/meshes.py): one collision geom per convex piece (the first carries
    the collider's name, the others are its walls; hidden from renders) and the visual mesh
    (`obj:{id}:visual`, no contacts). Returns the collision geoms."""
    geoms = []
    for k, points in enumerate(mesh.hulls):
        m = spec.add_mesh()
        m.name = f"obj:{obj.id}:hull{k}"
        m.uservert = np.asarray(points, dtype=float).ravel().tolist()
        m.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL  # the body's inertia is explicit; never fails on a sliver
        g = body.add_geom()
        g.name = SimScene.geom_name(obj.id) if k == 0 else SimScene.wall_geom_name(obj.id, k - 1)
        g.type = mujoco.mjtGeom.mjGEOM_MESH
        g.meshname = m.name
        g.group = HIDDEN_GEOM_GROUP
        geoms.append(g)
    vis = spec.add_mesh()
    vis.name = f"obj:{obj.id}:visual"
    vis.uservert = np.asarray(mesh.vertices, dtype=float).ravel().tolist()
    vis.userface = np.asarray(mesh.faces, dtype=int).ravel().tolist()
    if mesh.uv is not None and mesh.texture_png is not None:  # MuJoCo's v runs down the image
        vis.usertexcoord = np.column_stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]]).ravel().tolist()
    vis.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL
    v = body.add_geom()
    v.name = vis.name
    v.type = mujoco.mjtGeom.mjGEOM_MESH
    v.meshname = vis.name
    v.contype = v.conaffinity = 0
    v.mass = 0.0
    return geoms


def _add_colliders(body: mujoco.MjsBody, obj: SceneObject, phys: ObjectPhysics, hollow: bool) -> list[mujoco.MjsGeom]:
    """The object's collision geoms: one collider from the record, or for a hollow container its
    floor slab (carrying the collider's name) and walls. The caller sets contact parameters on all."""
    if not hollow:
        g = body.add_geom()
        g.name = SimScene.geom_name(obj.id)
        _collider(g, phys)
        return [g]
    geoms = []
    for k, part in enumerate(shell_parts(phys)):
        g = body.add_geom()
        g.name = SimScene.geom_name(obj.id) if k == 0 else SimScene.wall_geom_name(obj.id, k - 1)
        g.type = mujoco.mjtGeom.mjGEOM_CYLINDER if part.kind == "cylinder" else mujoco.mjtGeom.mjGEOM_BOX
        g.size = list(part.size)
        g.pos = list(part.pos)
        g.quat = [float(np.cos(part.yaw_rad / 2)), 0.0, 0.0, float(np.sin(part.yaw_rad / 2))]
        geoms.append(g)
    return geoms


FLOOR_LOOK = Look((0.74, 0.72, 0.68), "stone", 0.1, 0.1, jitter=0.06, texrepeat=1.0)
HANDLE_RGB = (0.25, 0.25, 0.26)


def _paint(spec: mujoco.MjSpec, painter: Painter, obj: SceneObject, phys: ObjectPhysics,
           mesh: ObjectMesh | None = None) -> None:
    """The object's look (sim/appearance.py) on every geom of its bodies; its handle in metal; a
    mesh's own base colour where its file has one, and its texture on its visual."""
    rgb, look = object_rgb(obj.name, obj.description, obj.category, phys.material)
    if mesh is not None and mesh.rgba is not None:
        rgb = mesh.rgba[:3]
    if mesh is not None and mesh.texture_png is not None and mesh.uv is not None:
        visual = spec.geom(f"obj:{obj.id}:visual")
        painter.paint_image([visual], f"mat:{obj.id}", f"{TEXTURE_DIR}/{mesh.texture_name}", mesh.texture_png,
                            mesh.rgba[:3] if mesh.rgba is not None else (1.0, 1.0, 1.0), look)
        return
    handle = SimScene.handle_geom_name(obj.id)
    bodies = [b for b in (spec.body(SimScene.body_name(obj.id)), spec.body(SimScene.carcass_name(obj.id)))
              if b is not None]
    geoms = [g for b in bodies for g in b.geoms]
    painter.paint([g for g in geoms if g.name != handle], f"mat:{obj.id}", rgb, look)
    handles = [g for g in geoms if g.name == handle]
    if handles:
        painter.paint(handles, f"mat:{obj.id}:handle", HANDLE_RGB, LOOKS["steel"])


def support_among(obj: SceneObject, holders: list[SceneObject]) -> str | None:
    """The highest holder whose top is at most 2 cm above the object's bottom and under its centre."""
    best, best_top = None, -np.inf
    cx, cy, bottom = obj.position_m[0], obj.position_m[1], obj.aabb_min_m[2]
    for h in holders:
        top = h.aabb_max_m[2]
        inside = h.aabb_min_m[0] <= cx <= h.aabb_max_m[0] and h.aabb_min_m[1] <= cy <= h.aabb_max_m[1]
        if inside and top <= bottom + 0.02 and top > best_top:
            best, best_top = h.id, top
    return best


def _look_at_quat(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    f = (target - pos) / np.linalg.norm(target - pos)
    x = np.cross(f, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    z = -f
    y = np.cross(z, x)
    return matrix_to_quat(np.column_stack([x, y, z]))


def build_sim_scene(scene: Scene, physics: PhysicsFile, robot: RobotDescription,
                    base_pos_m, base_quat_wxyz, mount_top_z_m: float | None = None,
                    meshes: dict[str, ObjectMesh] | None = None,
                    robot_visuals: RobotVisuals | None = None) -> SimScene:
    """Compile the scene with the robot at the given base pose (gripper open, arm at home, or
    drawn back from it when home meets the scene: sim/start_pose.py).

    `meshes` (simready/meshes.load_meshes): free objects with a mesh collide through its convex
    pieces and are drawn with its visual; the others keep their primitives. `robot_visuals`
    (robots/visuals.py): the robot is drawn with its meshes; runs that render pass them, the
    others (and the scene files written) keep only the primitives, which are what collides.

    With `mount_top_z_m` above the base position's z, the robot stands on a pedestal (a fixed
    0.24 m square column that touches objects but not the robot) whose top is at that height: task
    placement puts bases on the floor, while a Panda grasps table tops from table height.
    """
    mujoco_log.install()  # this process's MuJoCo warnings go to logging, not MUJOCO_LOG.TXT
    spec = mujoco.MjSpec()
    spec.modelname = f"scene_{scene.header.scene_id}"[:60]
    configure_options(spec, TIMESTEP_S)
    spec.option.gravity = list(scene.header.gravity_m_s2)

    floor = spec.worldbody.add_geom()
    floor.name = "floor"
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.contype, floor.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
    painter = Painter(spec)  # rendering only: colours, materials, textures (sim/appearance.py)
    painter.paint([floor, add_far_floor(spec)], "mat:floor", FLOOR_LOOK.rgb, FLOOR_LOOK)

    problems: list[Problem] = []
    dynamic_ids, fixed_ids, articulated_ids = [], [], []
    simulated = [o for o in scene.objects if o.sim_role not in SKIPPED_ROLES]
    shelves = open_furniture(simulated, skip=lambda o: is_container(o, physics.objects.get(o.id)))
    lifted = stacked(simulated, physics.objects).lifts  # interpenetrating free objects: the lighter on top
    floor_z = floor_height_m(scene.objects)
    for obj in simulated:
        phys = physics.objects.get(obj.id)
        if phys is None:
            problems.append(Problem(f"physics.objects[{obj.id}]", "missing: every simulated object needs a physics record"))
            continue
        mesh = (meshes or {}).get(obj.id) if phys.is_dynamic else None
        if phys.is_dynamic:
            _add_free_object(spec, obj, phys, lift_m=lifted.get(obj.id, 0.0), mesh=mesh)
            dynamic_ids.append(obj.id)
        elif obj.articulation is not None:
            _add_articulated(spec, obj, phys, floor_z, scene.objects)
            articulated_ids.append(obj.id)
        else:
            body = spec.worldbody.add_body()
            body.name = SimScene.body_name(obj.id)
            body.pos, body.quat = list(obj.position_m), list(obj.orientation_wxyz)
            geoms = (_add_open_furniture(body, obj, shelves[obj.id]) if obj.id in shelves
                     else _add_colliders(body, obj, phys, is_container(obj, phys)))
            for g in geoms:
                g.friction = [phys.static_friction, *_OBJECT_TORSION_ROLL]
                g.contype, g.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
            fixed_ids.append(obj.id)
        _paint(spec, painter, obj, phys, mesh)
    if problems:
        raise InvalidInputError("physics records do not cover the scene", problems[:20], max(0, len(problems) - 20))
    room = room_bounds(scene)
    if room is None:  # no room in the header: the objects' box grown by 0.5 m, a 2.8 m ceiling
        lo = np.min([o.aabb_min_m for o in scene.objects], axis=0) - 0.5 if scene.objects else -np.ones(3)
        hi = np.max([o.aabb_max_m for o in scene.objects], axis=0) + 0.5 if scene.objects else np.ones(3)
        room = (lo, np.array([hi[0], hi[1], floor_z + 2.8]))
    add_lights(spec, room[0], room[1], floor_z)
    floor.size = drawn_floor_size(room[0], room[1])

    base = np.asarray(base_pos_m, dtype=float).copy()
    if mount_top_z_m is not None and mount_top_z_m > base[2] + 0.05:
        ped = spec.worldbody.add_geom()
        ped.name = "robot_pedestal"
        ped.type = mujoco.mjtGeom.mjGEOM_BOX
        ped.size = [0.12, 0.12, (mount_top_z_m - base[2]) / 2]
        ped.pos = [base[0], base[1], (mount_top_z_m + base[2]) / 2]
        ped.contype, ped.conaffinity = 0, WORLD_CONTYPE  # objects hit it, robot links do not
        painter.paint([ped], "mat:robot_pedestal", (0.3, 0.3, 0.3), LOOKS["steel"])
        base[2] = mount_top_z_m
    names = add_robot(spec, robot, tuple(base), tuple(base_quat_wxyz), robot_visuals)
    forward = matrix_np(base_quat_wxyz)[:, 0]
    work = base + 0.5 * forward
    work[2] = base[2] + 0.1
    cam = spec.worldbody.add_camera()
    cam.name = "scene_cam"
    cam_pos = work + 0.9 * forward + np.array([0, 0, 0.7])
    cam.pos = cam_pos.tolist()
    cam.quat = _look_at_quat(cam_pos, work).tolist()
    cam.fovy = 60.0
    model = add_home_key(spec, robot)
    _statistic_without_drawn_floors(model, spec)
    start = clear_start(model, names, robot, base, base_quat_wxyz)  # home, unless it meets the scene
    if start is not None:
        k = model.key("home").id
        qpos, act = model.key_qpos[k].copy(), model.key_act[k].copy()
        qpos[[model.joint(j).qposadr[0] for j in names.joints]] = start
        act[[model.actuator_actadr[model.actuator(a).id] for a in names.actuators]] = start
        set_home_key(model, spec, qpos, act)

    by_id = scene.by_id()
    holders = [by_id[i] for i in fixed_ids + articulated_ids]
    support = {i: support_among(by_id[i], holders) for i in dynamic_ids}
    for shelf in shelves.values():
        support.update({i: shelf.id for i in shelf.contents})
    return SimScene(model=model, robot=robot, names=names, scene=scene, physics=dict(physics.objects),
                    dynamic_ids=dynamic_ids, fixed_ids=fixed_ids, articulated_ids=articulated_ids,
                    support_of=support, shelves=shelves, lifted=lifted, base_pos_m=base,
                    base_quat_wxyz=np.asarray(base_quat_wxyz, dtype=float), spec=spec,
                    material_jitter={name: look.jitter for name, look in painter.materials.items()},
                    robot_visuals=robot_visuals)


INFINITE_PLANE_RADIUS_M = 0.01  # what MuJoCo's statistic grows an infinite plane's centre by


def _statistic_without_drawn_floors(model: mujoco.MjModel, spec: mujoco.MjSpec) -> None:
    """MuJoCo sizes a scene (`stat`: the centre and extent of what it holds at qpos0, 1% of the
    extent being the cameras' near clipping distance) counting a finite plane by a tenth of its
    size: the floors drawn finite (sim/appearance.py) made the kitchen's extent 20 m instead of
    4.9 m, and the wrist camera lost everything nearer than 20 cm. The statistic is set as MuJoCo
    computes it with the floor infinite and without the far floor, as before they were drawn: the
    box of the bodies' frames and centres of mass, the joint anchors, the sites and each geom's
    centre grown by its bounding radius (an infinite plane's by INFINITE_PLANE_RADIUS_M), the
    extent at least twice the mean body size (tests/test_sim_appearance.py compares it with
    MuJoCo's own). In the model and in the spec, for the MJCF written."""
    d = mujoco.MjData(model)
    mujoco.mj_kinematics(model, d)
    grow = model.geom_rbound.copy()
    grow[model.geom("floor").id] = INFINITE_PLANE_RADIUS_M
    keep = np.ones(model.ngeom, bool)
    keep[model.geom("floor_far").id] = False
    points = [d.xpos[1:], d.xipos[1:], d.xanchor, d.site_xpos]
    lo = np.min([*(p.min(axis=0) for p in points if len(p)), (d.geom_xpos - grow[:, None])[keep].min(axis=0)], axis=0)
    hi = np.max([*(p.max(axis=0) for p in points if len(p)), (d.geom_xpos + grow[:, None])[keep].max(axis=0)], axis=0)
    model.stat.center = (lo + hi) / 2
    model.stat.extent = max(float(np.max(hi - lo)), 2 * model.stat.meansize)
    spec.stat.center = model.stat.center.tolist()
    spec.stat.extent = float(model.stat.extent)


def _add_open_furniture(body: mujoco.MjsBody, obj: SceneObject, shelf: OpenFurniture) -> list[mujoco.MjsGeom]:
    """Boards, top, sides and back of open furniture (scene/shelves.py); the first board carries
    the object's collider name, the others are its walls."""
    geoms = []
    for k, part in enumerate(shelf.parts()):
        g = body.add_geom()
        g.name = SimScene.geom_name(obj.id) if k == 0 else SimScene.wall_geom_name(obj.id, k - 1)
        g.type = mujoco.mjtGeom.mjGEOM_BOX
        g.size = list(part.half_m)
        g.pos = list(part.centre_m)
        geoms.append(g)
    return geoms


def _add_free_object(spec: mujoco.MjSpec, obj: SceneObject, phys: ObjectPhysics, lift_m: float = 0.0,
                     mesh: ObjectMesh | None = None) -> None:
    body = spec.worldbody.add_body()
    body.name = SimScene.body_name(obj.id)
    body.pos, body.quat = [obj.position_m[0], obj.position_m[1], obj.position_m[2] + lift_m], list(obj.orientation_wxyz)
    body.add_freejoint().name = f"obj:{obj.id}:free"
    body.explicitinertial = True
    body.mass = phys.mass_kg
    body.ipos = list(phys.center_of_mass_m)
    body.inertia = list(phys.inertia_diag_kg_m2)
    sphere = phys.collider is ColliderShape.SPHERE
    colliders = (_add_mesh_geoms(spec, body, obj, mesh) if mesh is not None
                 else _add_colliders(body, obj, phys, is_container(obj, phys)))
    for g in colliders:
        g.friction = [phys.static_friction, _OBJECT_TORSION_ROLL[0], SPHERE_ROLLING_M if sphere
                      else _OBJECT_TORSION_ROLL[1]]
        g.condim = SPHERE_CONDIM if sphere else PAD_CONDIM
        g.solref, g.solimp = list(CONTACT_SOLREF), list(CONTACT_SOLIMP)
        g.contype, g.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY | ARTICULATED_CONTYPE


def _add_articulated(spec: mujoco.MjSpec, obj: SceneObject, phys: ObjectPhysics, floor_z_m: float,
                     objects: list[SceneObject]) -> None:
    art = obj.articulation
    assert art is not None
    body = spec.worldbody.add_body()
    body.name = SimScene.body_name(obj.id)
    body.pos, body.quat = list(obj.position_m), list(obj.orientation_wxyz)
    body.explicitinertial = True
    body.mass = phys.mass_kg
    body.ipos = list(phys.center_of_mass_m)  # unset, MjSpec puts the centre of mass at the world origin
    body.inertia = list(phys.inertia_diag_kg_m2)
    j = body.add_joint()
    j.name = f"obj:{obj.id}:joint"
    axis = np.asarray(art.axis_local, dtype=float)
    j.axis = (axis / np.linalg.norm(axis)).tolist()
    j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
    j.range = [art.lower, art.upper]
    default = DOOR_DAMPING_NMS if art.type == "revolute" else 0.0
    j.damping = [art.damping if art.damping is not None else default, 0.0, 0.0]
    if art.type == "revolute":
        j.frictionloss = DOOR_FRICTION_NM
    if art.type == "prismatic":
        j.type = mujoco.mjtJoint.mjJNT_SLIDE
        if tray_of(obj, objects) is not None:  # inside its carcass: a tray open at the top (scene/drawers.py)
            geoms = []
            for k, (centre, half) in enumerate(tray_parts(obj)):
                g = body.add_geom()
                g.type = mujoco.mjtGeom.mjGEOM_BOX
                g.pos, g.size = centre.tolist(), half.tolist()
                if k:
                    g.name = f"obj:{obj.id}:wall{k}"
                geoms.append(g)
        else:
            g = body.add_geom()
            _collider(g, phys)
            geoms = [g]
    else:
        geoms = _add_door(spec, body, j, obj, phys, door(obj, objects, floor_z_m))
    geoms[0].name = SimScene.geom_name(obj.id)
    for g in geoms:
        g.friction = [phys.static_friction, *_OBJECT_TORSION_ROLL]
        # moving furniture parts touch free objects and the robot, not the floor or other furniture
        g.contype, g.conaffinity = ARTICULATED_CONTYPE, ROBOT_CONTYPE
    if art.type == "prismatic":
        _add_drawer_handle(body, obj, floor_z_m, objects)


def _add_door(spec: mujoco.MjSpec, body: mujoco.MjsBody, j: mujoco.MjsJoint, obj: SceneObject,
              phys: ObjectPhysics, dr: Door) -> list[mujoco.MjsGeom]:
    """A hinged door (scene/doors.py): the hinge on the front face's edge, the moving panel
    (a whole appliance's front slab, its mass the panel's share of the record's by volume, at
    least 1 kg; the rest a fixed carcass body `obj:{id}:carcass` with the furniture's contacts)
    and a bar handle along the hinge near the free edge."""
    j.type = mujoco.mjtJoint.mjJNT_HINGE
    j.pos = dr.hinge_local.tolist()
    panel = body.add_geom()
    panel.type = mujoco.mjtGeom.mjGEOM_BOX
    panel.size = dr.panel_half_m.tolist()
    panel.pos = dr.panel_centre_local.tolist()
    if dr.whole:
        share = float(np.prod(dr.panel_half_m) / np.prod(0.5 * np.asarray(obj.extents_m, dtype=float)))
        mass = max(1.0, phys.mass_kg * share)
        e = 2 * dr.panel_half_m
        body.mass, body.ipos = mass, dr.panel_centre_local.tolist()
        body.inertia = [mass / 12 * (e[1] ** 2 + e[2] ** 2), mass / 12 * (e[0] ** 2 + e[2] ** 2),
                        mass / 12 * (e[0] ** 2 + e[1] ** 2)]
        carcass = spec.worldbody.add_body()
        carcass.name = SimScene.carcass_name(obj.id)
        carcass.pos, carcass.quat = list(obj.position_m), list(obj.orientation_wxyz)
        c = carcass.add_geom()
        c.name = SimScene.carcass_name(obj.id)
        c.type = mujoco.mjtGeom.mjGEOM_BOX
        c.size = np.asarray(dr.carcass_half_m).tolist()
        c.pos = np.asarray(dr.carcass_centre_local).tolist()
        c.friction = [phys.static_friction, *_OBJECT_TORSION_ROLL]
        c.contype, c.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
    _add_bar_handle(body, obj.id, dr.handle_local, dr.normal_local, dr.axis_local, round_bar=True)
    return [panel]


def _add_drawer_handle(body: mujoco.MjsBody, obj: SceneObject, floor_z_m: float,
                       objects: list[SceneObject]) -> None:
    """A vertical bar handle (HANDLE_SIZE_M) on the drawer's pulling face, rigid with the drawer;
    the records carry no handle geometry, so its place is a documented convention
    (placement.drawer_pull: HANDLE_STANDOFF_M in front of the face, centre height capped at 1 m)."""
    handle, pull, _ = drawer_pull(obj, 1.0, floor_z_m, objects)
    rot = matrix_np(obj.orientation_wxyz)
    _add_bar_handle(body, obj.id, rot.T @ (handle - np.asarray(obj.position_m)), rot.T @ pull, rot.T @ np.array([0.0, 0.0, 1.0]))


def _add_bar_handle(body: mujoco.MjsBody, object_id: str, centre_local: np.ndarray, out_local: np.ndarray,
                    along_local: np.ndarray, round_bar: bool = False) -> None:
    """A HANDLE_SIZE_M bar at `centre_local`: depth along `out_local`, length along `along_local`;
    `round_bar`: a capsule of that diameter and length instead of a box (a door's: it may turn in
    the closed fingers while the door swings, sim/open_close.HAND_TURNS)."""
    out = np.asarray(out_local, dtype=float) / np.linalg.norm(out_local)
    along = np.asarray(along_local, dtype=float) / np.linalg.norm(along_local)
    lateral = np.cross(along, out)
    h = body.add_geom()
    h.name = SimScene.handle_geom_name(object_id)
    h.type = mujoco.mjtGeom.mjGEOM_BOX
    h.pos = np.asarray(centre_local, dtype=float).tolist()
    h.quat = matrix_to_quat(np.column_stack([out, lateral, along])).tolist()
    h.size = [0.5 * v for v in HANDLE_SIZE_M]
    if round_bar:
        h.type = mujoco.mjtGeom.mjGEOM_CAPSULE
        r = 0.5 * HANDLE_SIZE_M[0]
        h.size = [r, 0.5 * HANDLE_SIZE_M[2] - r, 0.0]
    h.friction = [1.0, *_OBJECT_TORSION_ROLL]
    h.condim = PAD_CONDIM
    h.solref, h.solimp = list(CONTACT_SOLREF), list(CONTACT_SOLIMP)
    h.contype, h.conaffinity = ARTICULATED_CONTYPE, ROBOT_CONTYPE


def prepare_for_target(sim: SimScene, target_id: str, sleep: bool = True) -> None:
    """Per-episode contact dimensions and sleep policies: PAD_CONDIM (torsional friction) on the
    target, 3 on the other free objects (pad contacts take the pad's condim anyway), SPHERE_CONDIM
    (rolling friction) on spheres; the target (a free object, or a drawer or door) and the robot
    never sleep, the other articulated parts have their compiled policy (so what ran before in
    the same process does not change an episode)."""
    m = sim.model
    allowed, never = mujoco.mjtSleepPolicy.mjSLEEP_ALLOWED, mujoco.mjtSleepPolicy.mjSLEEP_NEVER
    for oid in sim.dynamic_ids:
        condim = SPHERE_CONDIM if sim.physics[oid].collider is ColliderShape.SPHERE else (
            PAD_CONDIM if oid == target_id else 3)
        m.geom_condim[sim.object_geom_ids(oid)] = condim
        m.tree_sleep_policy[m.body_treeid[sim.body_id(oid)]] = never if oid == target_id else allowed
    for oid in sim.articulated_ids:
        tree = m.body_treeid[sim.body_id(oid)]
        m.tree_sleep_policy[tree] = never if oid == target_id else sim.nominal_sleep_policy[tree]
    m.tree_sleep_policy[m.body_treeid[m.body(sim.names.base_body).id + 1]] = never
    set_sleep(m, sleep)


def set_sleep(model: mujoco.MjModel, on: bool) -> None:
    if on:
        model.opt.enableflags |= int(mujoco.mjtEnableBit.mjENBL_SLEEP)
    else:
        model.opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_SLEEP)
