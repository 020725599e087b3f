"""Robots the export targets: published reach, shoulder offsets and base footprints.

Reach is measured from the shoulder (the first joint whose axis is not vertical), so a target is
reachable when its distance from a shoulder is at most REACH_MARGIN x reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from blueprint_pipeline.geniesim.records import RobotConfig
from blueprint_pipeline.robots.description import FRANKA, UR10, RobotDescription

REACH_MARGIN = 0.85


@dataclass(frozen=True)
class RobotSpec:
    config: RobotConfig
    shoulders_base_m: tuple[tuple[float, float, float], ...]  # shoulder points in the base frame (x forward)
    base_radius_m: float  # disc that must stay clear of furniture
    height_m: float  # objects below this height can collide with the robot's body
    # an arm the episodes stage simulates stands on a pedestal this far above the surface it works
    # on (robots.description, sim/scenes.sim_for); None: the robot's body fixes its shoulder height
    mount_above_surface_m: float | None = None
    shoulder_at_shelf_board: bool = False  # robots.description.RobotDescription's

    @property
    def usable_reach_m(self) -> float:
        return REACH_MARGIN * self.config.reach_m


def robot_config(desc: RobotDescription) -> RobotConfig:
    """The export's record of a simulated robot, from its description (`robots.description`)."""
    return RobotConfig(name=desc.name, reach_m=desc.reach_m, dof=desc.dof, gripper_stroke_m=desc.gripper.stroke_m,
                       source=f"{desc.source}; shoulder {desc.shoulder_height_m:g} m above the base (DH d1)")


def _simulated(desc: RobotDescription, base_radius_m: float, height_m: float) -> RobotSpec:
    return RobotSpec(robot_config(desc), shoulders_base_m=((0.0, 0.0, desc.shoulder_height_m),),
                     base_radius_m=base_radius_m, height_m=height_m, mount_above_surface_m=desc.mount_above_surface_m,
                     shoulder_at_shelf_board=desc.shoulder_at_shelf_board)


# The robots the episodes stage simulates come from `robots.description` (reach, stroke, shoulder);
# the G2 is exported for Genie Sim only.
ROBOTS: dict[str, RobotSpec] = {
    "franka": _simulated(FRANKA, base_radius_m=0.12, height_m=1.2),
    "ur10": _simulated(UR10, base_radius_m=0.12, height_m=1.4),
    "g2": RobotSpec(
        RobotConfig(name="g2", reach_m=0.83, dof=7,
                    gripper_stroke_m=0.08,
                    source="AgiBot G2 (Genie Sim's robot): per-arm reach 0.83 m from shoulder joint 2 to the "
                           "gripper centre, shoulders at (0.19, +-0.244, 1.143) m in the base frame with the body "
                           "joints of Genie Sim's shipped tasks, chassis wheels at +-0.23 x +-0.218 m - all from "
                           "the G2 URDF in AgiBot's public genie_sim repository (config/robot_cfg/G2); the "
                           "gripper stroke is not stated there: 0.08 m assumed"),
        shoulders_base_m=((0.19, 0.244, 1.143), (0.19, -0.244, 1.143)), base_radius_m=0.36, height_m=2.0),
}


def robot_configs() -> dict[str, RobotConfig]:
    return {name: spec.config for name, spec in ROBOTS.items()}
