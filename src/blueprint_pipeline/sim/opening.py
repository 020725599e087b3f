"""Where the hand goes to open (or close) a drawer or a door: the handle now, the way it faces, and
the line or arc it moves along. Geometry only (from placement.drawer_pull and scene/doors.py), shared
by the planner (sim/families/open_close.py) and the scene camera (sim/camera.py)."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.geniesim.tasks import MIN_DOOR_OPENING_RAD, MIN_DRAWER_OPENING_M
from blueprint_pipeline.rotations import axis_angle_matrix
from blueprint_pipeline.scene.doors import door
from blueprint_pipeline.geniesim.placement import drawer_pull
from blueprint_pipeline.scene.floor import floor_height_m
from blueprint_pipeline.sim.scene_builder import SimScene


@dataclass(frozen=True)
class Opening:
    """What the hand does to open an articulated part from its joint position now: grasp the bar
    handle at `handle_m` (the hand approaching against `out`, fingers closing across `bar`), then
    move the handle along a straight line `pull_m` (a drawer) or turn it by `angle_rad` about the
    hinge line (`pivot_m`, `axis`; a door). `joint_of_progress` maps the hand's progress along
    the opening (0..1) to the joint position, for the scene check."""

    handle_m: np.ndarray
    out: np.ndarray
    bar: np.ndarray
    q_from: float  # the joint position now
    q_to: float  # and at the end of the opening
    pull_m: np.ndarray | None = None
    pivot_m: np.ndarray | None = None
    axis: np.ndarray | None = None
    angle_rad: float = 0.0
    closing: bool = False  # the motion brings the part back towards closed

    @property
    def is_door(self) -> bool:
        return self.pull_m is None

    def handle_at(self, progress: float) -> np.ndarray:
        if self.pull_m is not None:
            return self.handle_m + progress * self.pull_m
        assert self.pivot_m is not None and self.axis is not None
        return self.pivot_m + axis_angle_matrix(self.axis, progress * self.angle_rad) @ (self.handle_m - self.pivot_m)


@dataclass(frozen=True)
class PartJoint:
    """The joint of a drawer or door in the compiled scene and where a task puts it: the task
    starts it closed (0 clipped to the limits, as the scene is built) unless it gives
    `joint_start_fraction` (a closing), and aims for `joint_target_fraction` (default 1) of the
    range. The one place both the planner (sim/families/open_close.py) and the camera read them."""

    qpos_adr: int
    lower: float
    upper: float

    @classmethod
    def of(cls, sim: SimScene, target: str) -> PartJoint:
        m = sim.model
        jid = m.joint(f"obj:{target}:joint").id
        lo, hi = (float(v) for v in m.jnt_range[jid])
        return cls(int(m.jnt_qposadr[jid]), lo, hi)

    def at(self, fraction: float) -> float:
        return self.lower + fraction * (self.upper - self.lower)

    def start_q(self, task: TaskSpec) -> float:
        if task.joint_start_fraction is None:
            return float(np.clip(0.0, self.lower, self.upper))
        return self.at(task.joint_start_fraction)

    def target_q(self, task: TaskSpec) -> float:
        return self.at(task.joint_target_fraction if task.joint_target_fraction is not None else 1.0)


# an opening no base pose plans is tried again opened less: these shares of its opening, in turn
SMALLER_OPENINGS = (0.875, 0.75)


def smaller_openings(sim: SimScene, task: TaskSpec) -> list[float]:
    """Joint fractions (`joint_target_fraction`) opening `task`'s drawer or door less than the
    task does: SMALLER_OPENINGS of its opening, none below what the task stage asks of any opening
    (geniesim/tasks.py: MIN_DOOR_OPENING_RAD, MIN_DRAWER_OPENING_M). None for a closing. A dining
    sideboard's door 1 m from a table, opened 40 deg, had no plan from any base pose with either
    robot (the arm met the table while pulling); opened 35 deg it has."""
    if task.type != "open_close" or task.joint_start_fraction is not None:
        return []
    m = sim.model
    joint = PartJoint.of(sim, task.target_object_id)
    q0, q1 = joint.start_q(task), joint.target_q(task)
    hinge = m.jnt_type[m.joint(f"obj:{task.target_object_id}:joint").id] == mujoco.mjtJoint.mjJNT_HINGE
    least = MIN_DOOR_OPENING_RAD if hinge else MIN_DRAWER_OPENING_M
    out = []
    for share in SMALLER_OPENINGS:
        amount = share * abs(q1 - q0)
        if amount < least - 1e-3:  # (task fractions are written to 4 decimals: 40 deg is 39.99)
            break
        out.append(round(float((q0 + np.sign(q1 - q0) * amount - joint.lower) / (joint.upper - joint.lower)), 4))
    return out


def open_goal_part(sim: SimScene, d, task: TaskSpec) -> None:
    """A pick_place into a drawer (geniesim/tasks.py `_into_drawer`) starts with the drawer open
    at the task's `joint_start_fraction`, as its opening leaves it: set its joint there in `d`
    (nothing stands on a drawer inside its carcass). Other tasks: nothing changes."""
    support = task.goal.support_object_id if task.goal is not None else None
    if task.type == "open_close" or task.joint_start_fraction is None or support not in sim.articulated_ids:
        return
    joint = PartJoint.of(sim, support)
    d.qpos[joint.qpos_adr] = joint.start_q(task)
    mujoco.mj_kinematics(sim.model, d)


def opening(sim: SimScene, target: str, q_now: float, q_target: float) -> Opening:
    """The Opening of `target` from joint position `q_now` to `q_target` (drawers:
    placement.drawer_pull; doors: scene/doors.py)."""
    obj = sim.scene.by_id()[target]
    art = obj.articulation
    assert art is not None
    floor_z = floor_height_m(sim.scene.objects)
    closed = float(np.clip(0.0, art.lower, art.upper))
    closing = abs(q_target - closed) < abs(q_now - closed)
    if art.type == "prismatic":
        handle, axis, _ = drawer_pull(obj, 1.0, floor_z, sim.scene.objects)  # the handle closed, the joint's positive direction
        q0 = float(np.clip(0.0, art.lower, art.upper))
        return Opening(handle_m=handle + axis * (q_now - q0), out=axis, bar=np.array([0.0, 0.0, 1.0]),
                       q_from=q_now, q_to=q_target, pull_m=axis * (q_target - q_now), closing=closing)
    dr = door(obj, sim.scene.objects, floor_z)
    opened = dr.opened_by(dr.sign * (q_now - dr.q_closed))
    return Opening(handle_m=dr.handle_at(q_now), out=opened @ dr.normal_m, bar=dr.rot @ dr.axis_local,
                   q_from=q_now, q_to=q_target, pivot_m=dr.hinge_m, axis=dr.axis_m,
                   angle_rad=dr.sign * (q_target - q_now), closing=closing)
