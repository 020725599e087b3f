"""Robot descriptions (published kinematics and limits) and their MuJoCo builders."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported: headless rendering backend

from blueprint_pipeline.robots.builder import (
    ROBOT_CONTYPE,
    WORLD_CONAFFINITY,
    WORLD_CONTYPE,
    RobotNames,
    add_home_key,
    add_robot,
    configure_options,
    home_qpos,
    names_for,
    robot_spec,
)
from blueprint_pipeline.robots.description import (
    FRANKA,
    ROBOTS,
    UR10,
    RobotDescription,
    robot_by_name,
)

__all__ = [
    "FRANKA", "ROBOTS", "ROBOT_CONTYPE", "UR10", "WORLD_CONAFFINITY", "WORLD_CONTYPE", "RobotDescription",
    "RobotNames", "add_home_key", "add_robot", "configure_options", "home_qpos", "names_for",
    "robot_by_name", "robot_spec",
]
