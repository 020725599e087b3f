"""Robot descriptions (published kinematics and limits) and their MuJoCo builders.

The descriptions and the registry (`ROBOTS`, `robot_by_name`) load without MuJoCo, so the CLI
and the service check a robot name before any work without paying for it; the builders' names
load `builder` (and MuJoCo) on first use.
"""

import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported: headless rendering backend

from blueprint_pipeline.robots.description import (
    FRANKA,
    GRIP_FIT_MARGIN_M,
    ROBOTS,
    UR10,
    RobotDescription,
    robot_by_name,
)

if TYPE_CHECKING:
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

_FROM_BUILDER = frozenset({
    "ROBOT_CONTYPE", "WORLD_CONAFFINITY", "WORLD_CONTYPE", "RobotNames", "add_home_key", "add_robot",
    "configure_options", "home_qpos", "names_for", "robot_spec",
})


def __getattr__(name: str) -> Any:
    if name in _FROM_BUILDER:
        from blueprint_pipeline.robots import builder

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FRANKA", "GRIP_FIT_MARGIN_M", "ROBOTS", "ROBOT_CONTYPE", "UR10", "WORLD_CONAFFINITY", "WORLD_CONTYPE", "RobotDescription",
    "RobotNames", "add_home_key", "add_robot", "configure_options", "home_qpos", "names_for",
    "robot_by_name", "robot_spec",
]
