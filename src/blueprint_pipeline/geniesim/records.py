"""Task configuration records (`geniesim/task_config.json`), read by the episodes stage.

Frames: world z-up, metres, quaternions w-x-y-z.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TASK_CONFIG_SCHEMA = "blueprint.task_config/1"

Vec3 = tuple[float, float, float]
QuatWXYZ = tuple[float, float, float, float]
TaskType = Literal["pick_place", "stack", "push", "open_close"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GoalRegion(_Record):
    """Where the target must end up: a rectangle on the top surface of a supporting object."""

    support_object_id: str
    center_m: Vec3  # on the support's top surface (z = surface height)
    size_m: tuple[float, float]  # extent along world x and y
    surface_z_m: float


class RobotPlacement(_Record):
    robot: str
    base_position_m: Vec3
    base_orientation_wxyz: QuatWXYZ
    reach_m: float
    # the top of the pedestal the arm stands on, when the task says so: a drawer or door of
    # something standing on furniture (a microwave on a counter) that no base on the floor
    # reaches. None: the floor, or for a task with a goal its surface (episodes stage, sim_for)
    mount_z_m: float | None = None


class TaskSpec(_Record):
    task_id: str
    type: TaskType
    description: str  # language instruction, e.g. "pick up the red mug and place it on the table"
    target_object_id: str
    goal: GoalRegion | None = None  # pick_place, stack and push
    joint_target_fraction: float | None = None  # open_close: fraction of the joint range
    # open_close: where the part starts, as a fraction of the joint range (None: as the scene has
    # it, closed); a task that closes a drawer or door starts it open
    joint_start_fraction: float | None = None
    difficulty: Literal["easy", "medium", "hard"]
    priority: int
    robot_placements: dict[str, RobotPlacement] = Field(default_factory=dict)  # by robot name
    # other base poses by robot name, in the order the episodes stage's feasibility probe tries
    # them when the robot's placement above has no plan (a drawer's or door's: the placement is
    # chosen by reach and footprints only, the arm's joints and the scene decide)
    placement_alternatives: dict[str, list[RobotPlacement]] = Field(default_factory=dict)


class SkippedObject(_Record):
    """A candidate object (free, or articulated) that got no task of a family, and why."""

    object_id: str
    family: str
    reason: str


class RobotConfig(_Record):
    name: str
    reach_m: float
    dof: int
    gripper_stroke_m: float
    source: str  # where the published figures come from


class TaskConfig(_Record):
    schema_: str = Field(default=TASK_CONFIG_SCHEMA, alias="schema")
    scene_id: str
    robots: dict[str, RobotConfig]
    tasks: tuple[TaskSpec, ...]
    skipped: tuple[SkippedObject, ...] = ()  # candidates without a task, with the reason

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
