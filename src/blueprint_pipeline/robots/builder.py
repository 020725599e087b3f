"""Build a robot arm with a parallel gripper into a `mujoco.MjSpec` from its DH description.

Links are capsules along the DH chain (origin -> a along x -> d along z), with the description's
masses, gravity compensation on every link, joint armature, and one position servo per joint
(damping ratio 1, so kv follows from the link inertia at compile time). Each arm servo's
set-point is its activation: an integrator (actearly) whose input, `ctrl`, is the set-point
velocity, clamped to the joint range. A controller that moves the set-point linearly between
control ticks writes the set-point and its velocity once per tick (`data.act`, `data.ctrl`) and
steps MuJoCo many times in one call, instead of writing a new set-point before every step.
Angles are radians (`spec.compiler.degree = False`, the `<compiler angle="radian"/>` semantics). Everything is named
`<robot>_...` so code looks joints, actuators and sites up by name, never by index.

Collision bits: robot geoms have contype ROBOT_CONTYPE and conaffinity WORLD_CONTYPE, world geoms
(furniture, objects, floor) have contype WORLD_CONTYPE and conaffinity WORLD_CONTYPE|ROBOT_CONTYPE,
so the robot touches the world but never itself (link self-contact is not modelled).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.robots.description import RobotDescription, RobotVisuals
from blueprint_pipeline.rotations import matrix_to_quat, quat_mul, yaw_quat
from blueprint_pipeline.sim import mujoco_log

WORLD_CONTYPE = 1
ROBOT_CONTYPE = 2
WORLD_CONAFFINITY = WORLD_CONTYPE | ROBOT_CONTYPE

# Contact model of the pads (section "Contact parameters" in sim/scene_builder.py explains why).
# condim 4: sliding and torsional friction. Rolling friction (condim 6) was dropped: at flat pad and
# box faces it changed nothing measurable (grasp slip and placement equal to 0.01 mm over the
# kitchen bench's pick_place episodes) and cost a third more constraint rows per contact.
PAD_CONDIM = 4
CONTACT_SOLREF = (0.01, 1.0)
CONTACT_SOLIMP = (0.95, 0.99, 0.001, 0.5, 2.0)

_LIMITED = mujoco.mjtLimited.mjLIMITED_TRUE


# Geom group the renderer and the scene camera's ray casts leave out: collision geometry that a
# visual mesh stands for (a meshed object's convex pieces, the robot's primitives under its meshes).
HIDDEN_GEOM_GROUP = 3

@dataclass(frozen=True)
class RobotNames:
    """Names of the robot's elements in the compiled model."""

    base_body: str
    joints: tuple[str, ...]
    actuators: tuple[str, ...]
    gripper_actuator: str
    finger_joints: tuple[str, str]
    pad_geoms: tuple[str, str]
    hand_body: str
    tcp_site: str
    wrist_camera: str


def names_for(desc: RobotDescription) -> RobotNames:
    n = desc.name
    return RobotNames(
        base_body=f"{n}_link0",
        joints=tuple(desc.joint_names),
        actuators=tuple(f"{n}_act{i + 1}" for i in range(desc.dof)),
        gripper_actuator=f"{n}_gripper",
        finger_joints=(f"{n}_finger_left", f"{n}_finger_right"),
        pad_geoms=(f"{n}_pad_left", f"{n}_pad_right"),
        hand_body=f"{n}_hand",
        tcp_site=f"{n}_tcp",
        wrist_camera=f"{n}_wrist_cam",
    )


def _robot_geom(body: mujoco.MjsBody, name: str = "") -> mujoco.MjsGeom:
    g = body.add_geom()
    if name:
        g.name = name
    g.contype = ROBOT_CONTYPE
    g.conaffinity = WORLD_CONTYPE
    g.rgba = [0.92, 0.92, 0.95, 1.0]
    return g


def _add_link_capsules(body: mujoco.MjsBody, points: list[np.ndarray], radius_m: float,
                       mass_kg: float) -> None:
    """Capsules between consecutive distinct points (a sphere when the chain has no length)."""
    segments = [(p, q) for p, q in itertools.pairwise(points) if np.linalg.norm(q - p) > 1e-6]
    if not segments:
        g = _robot_geom(body)
        g.type = mujoco.mjtGeom.mjGEOM_SPHERE
        g.size = [radius_m, 0, 0]
        g.mass = mass_kg
        return
    lengths = [float(np.linalg.norm(q - p)) for p, q in segments]
    for (p, q), length in zip(segments, lengths):
        g = _robot_geom(body)
        g.type = mujoco.mjtGeom.mjGEOM_CAPSULE
        g.fromto = [*p, *q]
        g.size = [radius_m, 0, 0]
        g.mass = mass_kg * length / sum(lengths)


def _link_points(desc: RobotDescription, i: int) -> list[np.ndarray]:
    """The DH chain from body i's origin to the next body's origin, in body i's frame."""
    zero = np.zeros(3)
    if desc.convention == "modified":
        # body i+1 sits at RotX(alpha) TransX(a) TransZ(d) of the next row; the last body ends at the flange.
        if i + 1 < desc.dof:
            row = desc.dh[i + 1]
            c, s = np.cos(row.alpha_rad), np.sin(row.alpha_rad)
            return [zero, np.array([row.a_m, 0, 0]), np.array([row.a_m, -s * row.d_m, c * row.d_m])]
        return [zero, np.array([0, 0, desc.flange_d_m])]
    row = desc.dh[i]  # standard: body i carries TransZ(d_i) TransX(a_i) of its own row
    end = [np.array([row.a_m, 0, row.d_m])] if i + 1 < desc.dof else [np.array([row.a_m, 0, row.d_m + desc.flange_d_m])]
    off = desc.link_axis_offset_m[i] if desc.link_axis_offset_m else 0.0
    if off:  # out along the joint axis to the tube, along the tube, back to the next joint's origin
        return [zero, np.array([0, 0, off]), np.array([row.a_m, 0, off]), *end]
    return [zero, np.array([0, 0, row.d_m]), *end]


def _child_pose(desc: RobotDescription, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Pose of body i (i >= 0 is the joint index) relative to its parent body."""
    if desc.convention == "modified":
        row = desc.dh[i]
        c, s = np.cos(row.alpha_rad), np.sin(row.alpha_rad)
        rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        return rot @ np.array([row.a_m, 0, row.d_m]), matrix_to_quat(rot)
    if i == 0:
        return np.zeros(3), np.array([1.0, 0, 0, 0])
    prev = desc.dh[i - 1]
    c, s = np.cos(prev.alpha_rad), np.sin(prev.alpha_rad)
    rot = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return np.array([prev.a_m, 0, prev.d_m]), matrix_to_quat(rot)


def _flange_pose(desc: RobotDescription) -> tuple[np.ndarray, np.ndarray]:
    """Flange pose in the last joint body's frame, with the gripper's mounting yaw."""
    yaw = desc.hand_yaw_rad
    rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    if desc.convention == "modified":
        return np.array([0, 0, desc.flange_d_m]), matrix_to_quat(rz)
    row = desc.dh[-1]
    c, s = np.cos(row.alpha_rad), np.sin(row.alpha_rad)
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    pos = np.array([row.a_m, 0, row.d_m]) + rx @ np.array([0, 0, desc.flange_d_m])
    return pos, matrix_to_quat(rx @ rz)


def add_robot(spec: mujoco.MjSpec, desc: RobotDescription, base_pos_m=(0.0, 0.0, 0.0),
              base_quat_wxyz=(1.0, 0.0, 0.0, 0.0), visuals: RobotVisuals | None = None) -> RobotNames:
    """Add the arm and its gripper to `spec`'s world body at the given base pose; with
    `visuals` (robots/visuals.py), its meshes are drawn instead of the primitives."""
    names = names_for(desc)
    spec.compiler.degree = False
    base = spec.worldbody.add_body()
    base.name = names.base_body
    base.pos = list(base_pos_m)
    base.quat = list(quat_mul(base_quat_wxyz, yaw_quat(desc.base_yaw_rad)))
    first_pos, _ = _child_pose(desc, 0)
    base_points = [np.zeros(3), first_pos] if desc.convention == "modified" else [np.zeros(3), np.array([0, 0, 0.05])]
    _add_link_capsules(base, base_points, desc.link_radius_m[0], desc.link_mass_kg[0])
    for g in base.geoms:  # the base is bolted down: never in contact with the furniture it stands on
        g.contype = 0
        g.conaffinity = 0
    parent = base
    for i in range(desc.dof):
        body = parent.add_body()
        body.name = f"{desc.name}_link{i + 1}"
        body.pos, body.quat = _child_pose(desc, i)
        body.gravcomp = 1.0
        j = body.add_joint()
        j.name = names.joints[i]
        j.type = mujoco.mjtJoint.mjJNT_HINGE
        j.axis = [0, 0, 1]
        j.limited = _LIMITED
        j.range = [desc.lower_rad[i], desc.upper_rad[i]]
        j.armature = desc.armature_kg_m2
        _add_link_capsules(body, _link_points(desc, i), desc.link_radius_m[i + 1], desc.link_mass_kg[i + 1])
        a = spec.add_actuator()
        a.name = names.actuators[i]
        a.trntype = mujoco.mjtTrn.mjTRN_JOINT
        a.target = names.joints[i]
        a.set_to_position(kp=desc.servo_kp[i], dampratio=1.0)
        # the set-point is the actuator's activation, integrated from ctrl = set-point velocity
        # (see the module docstring), clamped to the joint range
        a.dyntype = mujoco.mjtDyn.mjDYN_INTEGRATOR
        a.actearly = True
        a.actlimited = _LIMITED
        a.actrange = [desc.lower_rad[i], desc.upper_rad[i]]
        a.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        # the joint's rated torque bounds the servo: pressed into furniture or an object, the arm
        # stalls as a real one does instead of pushing with hundreds of N*m (which flung objects)
        a.forcelimited = _LIMITED
        a.forcerange = [-desc.max_torque_nm[i], desc.max_torque_nm[i]]
        parent = body
    _add_gripper(spec, desc, parent, names)
    if visuals is not None:
        _add_visuals(spec, desc, names, visuals)
    return names


def _add_visuals(spec: mujoco.MjSpec, desc: RobotDescription, names: RobotNames, visuals: RobotVisuals) -> None:
    """The visual meshes as contact-free, massless geoms on their bodies; the primitives they
    stand for (the arm's, and the gripper's when the meshes draw it) hidden from renders."""
    gripper = {names.hand_body, *(f"{desc.name}_finger_{s}_body" for s in ("left", "right"))}
    for g in spec.geoms:
        body = g.parent.name
        if body.startswith(f"{desc.name}_") and (visuals.draws_gripper or body not in gripper):
            g.group = HIDDEN_GEOM_GROUP
    for k, part in enumerate(visuals.parts):
        m = spec.add_mesh()
        m.name = f"{desc.name}_visual{k}"
        m.uservert = part.vertices.ravel().tolist()
        m.userface = part.faces.ravel().tolist()
        m.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL  # massless: never computed from a sliver
        g = spec.body(part.body).add_geom()
        g.name = m.name
        if part.linkage is not None:  # vertices in its link's frame: placed fully open (gripper_meshes.pose_linkage)
            g.pos = part.linkage.poses[-1][:3, 3]
            g.quat = matrix_to_quat(part.linkage.poses[-1][:3, :3])
        g.type = mujoco.mjtGeom.mjGEOM_MESH
        g.meshname = m.name
        g.contype = g.conaffinity = 0
        g.mass = 0.0
        g.rgba = list(part.rgba)


def _add_gripper(spec: mujoco.MjSpec, desc: RobotDescription, last: mujoco.MjsBody, names: RobotNames) -> None:
    grip = desc.gripper
    hand = last.add_body()
    hand.name = names.hand_body
    hand.pos, hand.quat = _flange_pose(desc)
    hand.gravcomp = 1.0
    g = _robot_geom(hand, f"{desc.name}_hand_box")
    g.type = mujoco.mjtGeom.mjGEOM_BOX
    g.size = [0.025, 0.09, 0.029]
    g.pos = [0, 0, 0.029]
    g.mass = grip.hand_mass_kg
    finger_z_m = grip.tcp_offset_m - 0.045  # pad centres sit at the TCP height
    px, py, pz = grip.pad_half_size_m
    for side, sign in ((0, 1.0), (1, -1.0)):
        f = hand.add_body()
        f.name = f"{desc.name}_finger_{'left' if side == 0 else 'right'}_body"
        f.pos = [0, 0, finger_z_m]
        f.gravcomp = 1.0
        j = f.add_joint()
        j.name = names.finger_joints[side]
        j.type = mujoco.mjtJoint.mjJNT_SLIDE
        j.axis = [0, sign, 0]
        j.limited = _LIMITED
        j.range = [0.0, grip.stroke_per_finger_m]
        j.armature = 0.01
        j.damping = [1.0, 0.0, 0.0]
        link = _robot_geom(f)
        link.type = mujoco.mjtGeom.mjGEOM_BOX
        link.size = [px, 0.006, 0.014]
        link.pos = [0, sign * (0.006 + 2 * py), 0.014]
        link.mass = grip.finger_mass_kg * 0.6
        pad = _robot_geom(f, names.pad_geoms[side])
        pad.type = mujoco.mjtGeom.mjGEOM_BOX
        pad.size = [px, py, pz]
        pad.pos = [0, sign * py, 0.045]
        pad.mass = grip.finger_mass_kg * 0.4
        pad.condim = PAD_CONDIM
        pad.friction = list(grip.pad_friction)
        pad.solref = list(CONTACT_SOLREF)
        pad.solimp = list(CONTACT_SOLIMP)
        pad.priority = 1  # the pad's friction decides the pad-object contact
        pad.rgba = [0.2, 0.2, 0.2, 1.0]
    eq = spec.add_equality()
    eq.type = mujoco.mjtEq.mjEQ_JOINT
    eq.name1, eq.name2 = names.finger_joints
    eq.data[:5] = [0, 1, 0, 0, 0]
    tendon = spec.add_tendon()
    tendon.name = f"{desc.name}_grip_tendon"
    for jn in names.finger_joints:
        tendon.wrap_joint(jn, 0.5)  # tendon length = mean opening per finger
    act = spec.add_actuator()
    act.name = names.gripper_actuator
    act.trntype = mujoco.mjtTrn.mjTRN_TENDON
    act.target = tendon.name
    act.set_to_position(kp=grip.servo_kp, dampratio=1.0)
    act.ctrllimited = _LIMITED
    act.ctrlrange = [0.0, grip.stroke_per_finger_m]
    act.forcelimited = _LIMITED
    # the tendon force splits 0.5/0.5 over the fingers: 2F on the tendon is F per finger
    act.forcerange = [-2 * grip.force_per_finger_n, 2 * grip.force_per_finger_n]
    site = hand.add_site()
    site.name = names.tcp_site
    site.pos = [0, 0, grip.tcp_offset_m]
    site.size = [0.005, 0, 0]
    cam = hand.add_camera()
    cam.name = names.wrist_camera
    cam.pos = [-0.07, 0, 0.02]
    cam.quat = [0, 1, 0, 0]  # a MuJoCo camera looks along its -z: this one looks along the approach axis
    cam.fovy = 75.0


def robot_spec(desc: RobotDescription, base_pos_m=(0.0, 0.0, 0.0), base_quat_wxyz=(1.0, 0.0, 0.0, 0.0),
               timestep_s: float = 1.0 / 480.0) -> tuple[mujoco.MjSpec, RobotNames]:
    """A spec holding only the robot (used for IK and kinematics tests)."""
    mujoco_log.install()  # this process's MuJoCo warnings go to logging, not MUJOCO_LOG.TXT
    spec = mujoco.MjSpec()
    spec.modelname = desc.name
    configure_options(spec, timestep_s)
    names = add_robot(spec, desc, base_pos_m, base_quat_wxyz)
    return spec, names


def configure_options(spec: mujoco.MjSpec, timestep_s: float) -> None:
    """Solver options shared by every model we build (see sim/scene_builder.py for the why)."""
    spec.compiler.degree = False
    spec.option.timestep = timestep_s
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0


def home_qpos(model: mujoco.MjModel, desc: RobotDescription) -> np.ndarray:
    """qpos0 with the robot's joints at home and its gripper open."""
    q = model.qpos0.copy()
    names = names_for(desc)
    for jn, v in zip(names.joints, desc.home_rad):
        q[model.joint(jn).qposadr[0]] = v
    for jn in names.finger_joints:
        q[model.joint(jn).qposadr[0]] = desc.gripper.stroke_per_finger_m
    return q


def add_home_key(spec: mujoco.MjSpec, desc: RobotDescription) -> mujoco.MjModel:
    """Add a `home` keyframe (arm at home, gripper open, the rest at qpos0) and compile, once:
    the key is added empty (MuJoCo fills it with qpos0 and zeros) and its values are then set in
    both the compiled model and the spec (`set_home_key`). Compiling, adding the key and compiling
    again cost 1.1 of the corpus's 54 CPU seconds."""
    key = spec.add_key()
    key.name = "home"
    model = spec.compile()
    act = np.zeros(model.na)  # arm set-points at home
    names = names_for(desc)
    for an, v in zip(names.actuators, desc.home_rad):
        act[model.actuator_actadr[model.actuator(an).id]] = v
    ctrl = np.zeros(model.nu)  # arm set-points still, gripper open
    ctrl[model.actuator(names.gripper_actuator).id] = desc.gripper.stroke_per_finger_m
    set_home_key(model, spec, home_qpos(model, desc), act, ctrl)
    return model


def set_home_key(model: mujoco.MjModel, spec: mujoco.MjSpec, qpos: np.ndarray, act: np.ndarray,
                 ctrl: np.ndarray | None = None) -> None:
    """Set the `home` keyframe's values in a compiled model and in the spec it came from (which
    MJCF is written from), without compiling again."""
    k = model.key("home").id
    key = spec.key("home")
    model.key_qpos[k], model.key_act[k] = qpos, act
    key.qpos, key.act = np.asarray(qpos, dtype=float).tolist(), np.asarray(act, dtype=float).tolist()
    if ctrl is not None:
        model.key_ctrl[k] = ctrl
        key.ctrl = np.asarray(ctrl, dtype=float).tolist()
