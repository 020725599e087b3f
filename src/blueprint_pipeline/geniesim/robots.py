"""Robots the export targets: published reach, shoulder offsets and base footprints.

Reach is measured from the shoulder (the first joint whose axis is not vertical), so a target is
reachable when its distance from a shoulder is at most REACH_MARGIN x reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from blueprint_pipeline.geniesim.records import RobotConfig

REACH_MARGIN = 0.85


@dataclass(frozen=True)
class RobotSpec:
    config: RobotConfig
    shoulders_base_m: tuple[tuple[float, float, float], ...]  # shoulder points in the base frame (x forward)
    base_radius_m: float  # disc that must stay clear of furniture
    height_m: float  # objects below this height can collide with the robot's body

    @property
    def usable_reach_m(self) -> float:
        return REACH_MARGIN * self.config.reach_m


ROBOTS: dict[str, RobotSpec] = {
    "franka": RobotSpec(
        RobotConfig(name="franka", reach_m=0.855, dof=7, gripper_stroke_m=0.08,
                    source="Franka Emika Panda datasheet: reach 855 mm, Franka Hand stroke 80 mm; "
                           "shoulder (joint 2) 0.333 m above the base (DH d1)"),
        shoulders_base_m=((0.0, 0.0, 0.333),), base_radius_m=0.12, height_m=1.2),
    "ur10": RobotSpec(
        RobotConfig(name="ur10", reach_m=1.3, dof=6, gripper_stroke_m=0.085,
                    source="Universal Robots UR10 datasheet: reach 1300 mm; shoulder 0.1273 m above the "
                           "base (DH d1); stroke of a Robotiq 2F-85 gripper (85 mm), the usual UR10 gripper"),
        shoulders_base_m=((0.0, 0.0, 0.1273),), base_radius_m=0.12, height_m=1.4),
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
