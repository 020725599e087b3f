"""Robot descriptions: published kinematics and limits plus the simulation choices that go with them.

Kinematics and joint limits are the manufacturers' published figures (Franka Emika Panda
datasheet / libfranka docs; Universal Robots UR10 DH table). Link masses, link radii, servo gains
and the gripper are simulation choices, documented here so a reader sees them in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from blueprint_pipeline.robots.dh import Convention, DHRow


# An object must be at least this much narrower than a gripper's stroke to be taken: the open
# fingers close in from 5 mm either side of it. Task suggestion and grasp planning both use it, so
# a task is never generated for an object no grasp fits.
GRIP_FIT_MARGIN_M = 0.01
# A rim grasp (a mug or bowl taken by its wall, sim/grasp.py) opens the fingers this much wider
# than the wall on each side: one finger goes down inside, one outside.
RIM_ROOM_M = 0.015


@dataclass(frozen=True)
class GripperDescription:
    """A parallel two-finger gripper; the TCP lies on the approach axis (hand z) between the pads."""

    stroke_per_finger_m: float = 0.04  # 0.08 m total opening
    force_per_finger_n: float = 70.0
    tcp_offset_m: float = 0.1034  # flange -> TCP along the approach axis
    hand_mass_kg: float = 0.73
    finger_mass_kg: float = 0.1
    pad_half_size_m: tuple[float, float, float] = (0.009, 0.004, 0.019)  # x, y (thickness), z
    pad_friction: tuple[float, float, float] = (1.0, 0.02, 0.001)  # slide, torsion, roll
    servo_kp: float = 5000.0  # N/m on the mean finger opening, force-limited

    @property
    def stroke_m(self) -> float:
        """Full opening between the pads, metres."""
        return 2.0 * self.stroke_per_finger_m


@dataclass(frozen=True)
class GripperMeshes:
    """A gripper's visual meshes from another package than the arm's (robots/gripper_meshes.py)."""

    package: str  # the installed distribution that holds them
    license: str
    urdf: str  # the URDF's path in the distribution's files
    finger_joint: str  # the URDF's joint that closes the fingers (the others mimic it)
    pads: tuple[str, str]  # the URDF's left and right pad links (ours: +y and -y of the hand)


@dataclass(frozen=True)
class VisualMeshes:
    """Where a robot's real visual meshes are in the `example-robot-data` package (robots/visuals.py)."""

    urdf: str  # path under the package's share folder
    links: tuple[str, ...]  # URDF link drawn on each body: the base, then one per joint
    # URDF links drawn on the hand and its left and right fingers; None: the gripper is drawn
    # from `gripper`, else as its primitives (the package has no model of the UR10's Robotiq 2F-85)
    hand_links: tuple[str, str, str] | None = None
    gripper: GripperMeshes | None = None


@dataclass(frozen=True)
class FingerLinkage:
    """A drawn gripper link that moves with a finger along a path of its own (a Robotiq's
    knuckles turn as its fingers close): its pose in the hand's frame (4x4) at finger openings
    (the slide joint's position) `step_m` apart from 0 to fully open, for finger `side` (0: left)."""

    side: int
    step_m: float
    poses: np.ndarray  # (n, 4, 4)


@dataclass(frozen=True)
class VisualPart:
    """One drawn mesh: its body, vertices in the body's frame (metres), triangles and colour;
    with `linkage`, vertices in the link's own frame, posed per frame (robots/gripper_meshes.py)."""

    body: str
    vertices: np.ndarray
    faces: np.ndarray
    rgba: tuple[float, float, float, float]
    linkage: FingerLinkage | None = None


@dataclass(frozen=True)
class RobotVisuals:
    parts: tuple[VisualPart, ...]
    source: str  # robots/visuals.py: the package, its version and the URDF (quality certificate, summary.json)
    draws_gripper: bool  # False: the gripper's primitives stay drawn


@dataclass(frozen=True)
class RobotDescription:
    name: str
    convention: Convention
    dh: tuple[DHRow, ...]
    flange_d_m: float  # last joint frame -> flange along z (0 when the DH table ends at the flange)
    hand_yaw_rad: float  # gripper mounting rotation about the flange z axis
    base_yaw_rad: float  # DH base frame rotation about the mount's z, so the arm reaches along the mount's +x
    lower_rad: tuple[float, ...]
    upper_rad: tuple[float, ...]
    max_velocity_rad_s: tuple[float, ...]
    max_acceleration_rad_s2: tuple[float, ...]
    max_jerk_rad_s3: tuple[float, ...]
    link_mass_kg: tuple[float, ...]  # base link first, then one per joint
    link_radius_m: tuple[float, ...]  # capsule radius, same order
    servo_kp: tuple[float, ...]  # N*m/rad, one per joint (damping ratio 1)
    max_torque_nm: tuple[float, ...]  # the joint's rated torque: each servo's force limit
    armature_kg_m2: float
    home_rad: tuple[float, ...]
    reach_m: float
    source: str
    gripper: GripperDescription = field(default_factory=GripperDescription)
    # pedestal top above the work surface: the UR10's shoulder is only 0.13 m above its base, so at
    # surface height its upper arm sweeps the table edge
    mount_above_surface_m: float = 0.0
    # in open furniture, the pedestal puts the shoulder at the board the arm works on instead
    # (geniesim/tasks._shoulder_at_board): the Franka's forearm then goes in level under the board
    # above. Off for the UR10: on the corpus its runs ok fell 24 -> 23 and scenes at >= 95% 17 -> 13
    shoulder_at_shelf_board: bool = False
    visual_meshes: VisualMeshes | None = None
    # Per joint body: how far its link's tube stands off the DH line along the joint's axis
    # (robots/builder._link_points; empty: on the line). A UR arm's upper arm and forearm are
    # not on the line through its shoulder and wrist: the DH table folds their offsets into d4.
    link_axis_offset_m: tuple[float, ...] = ()
    # The arm's shoulder-lift, elbow and first wrist axes are parallel (a UR arm): a hand pose is
    # reached in up to 8 postures (shoulder, elbow and wrist flipped), and when no grasp plans
    # from the solve's own posture the planner tries the others (sim/ik.py ArmIK.branch_seeds).
    # The 7-joint Panda's posture task settles its redundancy continuously (False).
    ik_branch_flips: bool = False

    @property
    def dof(self) -> int:
        return len(self.dh)

    @property
    def shoulder_height_m(self) -> float:
        """Shoulder (first joint's frame offset d1) above the base, metres."""
        return self.dh[0].d_m

    @property
    def joint_names(self) -> list[str]:
        return [f"{self.name}_joint{i + 1}" for i in range(self.dof)]

    def flange_transform(self) -> np.ndarray:
        t = np.eye(4)
        t[2, 3] = self.flange_d_m
        return t


PI = float(np.pi)

FRANKA = RobotDescription(
    name="franka",
    convention="modified",
    dh=(DHRow(0, 0.333, 0), DHRow(0, 0, -PI / 2), DHRow(0, 0.316, PI / 2), DHRow(0.0825, 0, PI / 2),
        DHRow(-0.0825, 0.384, -PI / 2), DHRow(0, 0, PI / 2), DHRow(0.088, 0, PI / 2)),
    flange_d_m=0.107,
    hand_yaw_rad=-PI / 4,  # the Franka hand is mounted at -45 deg about the flange axis
    base_yaw_rad=0.0,
    lower_rad=(-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973),
    upper_rad=(2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973),
    max_velocity_rad_s=(2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61),
    max_acceleration_rad_s2=(15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0),
    max_jerk_rad_s3=(7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0),
    link_mass_kg=(3.06, 4.97, 0.65, 3.23, 3.59, 1.23, 1.67, 0.74),  # ~19 kg with the hand
    link_radius_m=(0.07, 0.06, 0.06, 0.06, 0.055, 0.055, 0.05, 0.04),
    servo_kp=(4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0),
    max_torque_nm=(87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0),  # Franka's published joint torque limits
    armature_kg_m2=0.1,
    home_rad=(0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785),
    reach_m=0.855,
    shoulder_at_shelf_board=True,
    visual_meshes=VisualMeshes(urdf="robots/panda_description/urdf/panda.urdf",
                               links=tuple(f"panda_link{i}" for i in range(8)),
                               hand_links=("panda_hand", "panda_leftfinger", "panda_rightfinger")),
    source="Franka Emika Panda datasheet: reach 855 mm; libfranka DH table (Craig convention); "
           "Franka Hand stroke 80 mm",
)

UR10 = RobotDescription(
    name="ur10",
    convention="standard",
    dh=(DHRow(0, 0.1273, PI / 2), DHRow(-0.612, 0, 0), DHRow(-0.5723, 0, 0),
        DHRow(0, 0.163941, PI / 2), DHRow(0, 0.1157, -PI / 2), DHRow(0, 0.0922, 0)),
    flange_d_m=0.0,
    hand_yaw_rad=0.0,
    base_yaw_rad=PI,  # the UR DH frames point the zero pose along -x
    lower_rad=(-2 * PI, -2 * PI, -PI, -2 * PI, -2 * PI, -2 * PI),  # elbow kept to +-pi (self-collision)
    upper_rad=(2 * PI, 2 * PI, PI, 2 * PI, 2 * PI, 2 * PI),
    max_velocity_rad_s=(2.094, 2.094, 3.14, 3.14, 3.14, 3.14),
    # UR publishes no joint acceleration/jerk limits; these are conservative planning limits.
    max_acceleration_rad_s2=(5.0, 5.0, 8.0, 10.0, 10.0, 10.0),
    max_jerk_rad_s3=(500.0, 500.0, 800.0, 1000.0, 1000.0, 1000.0),
    link_mass_kg=(4.0, 7.78, 12.93, 3.87, 1.96, 1.96, 0.2),
    link_radius_m=(0.075, 0.075, 0.06, 0.05, 0.045, 0.045, 0.04),
    servo_kp=(8000.0, 8000.0, 6000.0, 2500.0, 2000.0, 2000.0),
    max_torque_nm=(330.0, 330.0, 150.0, 56.0, 56.0, 56.0),  # UR10 CB3 joint sizes 4, 4, 3, 2, 2, 2
    armature_kg_m2=0.1,
    home_rad=(0.0, -PI / 2, PI / 2, -PI / 2, -PI / 2, 0.0),
    reach_m=1.3,
    source="Universal Robots UR10 (CB3) datasheet: reach 1300 mm, DH parameters and joint speed limits; "
           "Robotiq 2F-85 gripper (the usual UR10 gripper) datasheet: stroke 85 mm",
    # Robotiq 2F-85: 85 mm stroke (its datasheet); the hand's masses and pads are the Franka Hand's
    gripper=GripperDescription(stroke_per_finger_m=0.0425),
    mount_above_surface_m=0.25,
    # UR10 upper arm 220.9 mm and forearm 220.9 - 171.9 = 49 mm off the line (Universal Robots'
    # ROS description: shoulder_lift and elbow joint origins; 49 + 114.9 = d4 163.9 mm)
    link_axis_offset_m=(0.0, 0.2209, 0.049, 0.0, 0.0, 0.0),
    ik_branch_flips=True,
    visual_meshes=VisualMeshes(urdf="robots/ur_description/urdf/ur10_robot.urdf",
                               links=("base_link", "shoulder_link", "upper_arm_link", "forearm_link",
                                      "wrist_1_link", "wrist_2_link", "wrist_3_link"),
                               gripper=GripperMeshes(package="airo-models", license="MIT",
                                                     urdf="airo_models/grippers/robotiq_2f_85/urdf/robotiq_2f_85.urdf",
                                                     finger_joint="finger_joint",
                                                     pads=("left_inner_finger_pad", "right_inner_finger_pad"))),
)

ROBOTS: dict[str, RobotDescription] = {FRANKA.name: FRANKA, UR10.name: UR10}


def robot_by_name(name: str, field: str = "robot") -> RobotDescription:
    """The registered robot called `name`; InvalidInputError naming `field` (the option or
    parameter it came from) and the known robots otherwise."""
    from blueprint_pipeline.errors import InvalidInputError

    try:
        return ROBOTS[name]
    except KeyError:
        raise InvalidInputError(f"{field}: unknown robot {str(name)[:64]!r}; "
                                f"known robots: {', '.join(sorted(ROBOTS))}") from None
