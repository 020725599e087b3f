"""Time parameterisation: minimum-jerk Cartesian segments (IK on a few knots, a spline between) and jerk-limited
joint-space segments (ruckig). A Cartesian segment is a straight line or an arc (the hand turned
rigidly about a door's hinge, `plan_arc`); both are timed and checked the same way.

Cartesian segments:
A segment moves the TCP from pose A to pose B along a straight line (orientation by slerp) with the
minimum-jerk profile s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5, whose peak speed is 1.875 D / T and
peak acceleration 5.77 D / T^2. IK is solved once per segment on a few knots evenly spaced along
the line (each seeded from the previous one, so joints move continuously; about one per 10 cm or
0.25 rad, at least 3) and a cubic spline q(s) joins them; forward kinematics at the midpoints
between knots must stay within 0.5 mm / 5 mrad of the line, else a knot is added there. The
min-jerk timing samples q(s) at the control ticks, which are checked against the robot's joint
velocity and acceleration limits (finite differences at the control rate); the segment is
stretched (resampled, no new IK) until it respects them. Planning happens once per segment,
never per physics step: the executor only interpolates between ticks. A tick-to-tick jump above 0.3 rad means the
IK branch flipped (a stretched segment would still jump), so the segment fails at once.

Joint-space segments (the approach from home, where the hand is high above everything, and a
fallback for transport): ruckig's time-optimal trajectory under JOINT_*_FRACTION of the published
velocity, acceleration and jerk limits, sampled at the control ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.interpolate import make_interp_spline

from blueprint_pipeline.rotations import axis_angle_matrix, matrix_np, matrix_to_quat
from blueprint_pipeline.sim.ik import ArmIK

MAX_TCP_SPEED_M_S = 0.6
MAX_TCP_ACCEL_M_S2 = 3.0
MAX_TCP_ANGULAR_SPEED_RAD_S = 1.5
LIMIT_FRACTION = 0.8  # plan to at most 80% of the published joint limits
JOINT_VEL_FRACTION, JOINT_ACC_FRACTION, JOINT_JERK_FRACTION = 0.5, 0.3, 0.05  # gentle joint-space moves
MAX_TICK_JUMP_RAD = 0.3
MIN_KNOTS, MAX_KNOTS = 3, 64  # IK knots per Cartesian segment
# one knot per 10 cm: with one per 5 cm the meshed kitchen's Franka episodes spent 25% of their
# CPU drawing their start and planning, 21% now; the spline, checked at every midpoint, stayed
# within 0.48 mm of the line sampled 160 times a segment (0.54 mm with 5 cm; both robots)
KNOT_SPACING_M, KNOT_SPACING_RAD = 0.1, 0.25
PATH_TOL_M, PATH_TOL_RAD = 5e-4, 5e-3  # spline TCP vs the straight line, between knots


class IKFailure(Exception):
    """A waypoint the arm cannot reach (position error above 1 mm or orientation above 0.01 rad)."""

    reason = "ik_failure"  # the episode's failure reason


@dataclass
class Pose:
    pos_m: np.ndarray  # (3,)
    rot: np.ndarray  # (3, 3)

    def quat_wxyz(self) -> np.ndarray:
        return matrix_to_quat(self.rot)

    def moved(self, delta_m) -> Pose:
        return Pose(self.pos_m + np.asarray(delta_m, dtype=float), self.rot.copy())


def min_jerk(tau: np.ndarray) -> np.ndarray:
    return 10 * tau**3 - 15 * tau**4 + 6 * tau**5


def _rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    # clamped with Python's min and max (np.clip on a scalar was half the call, at every midpoint)
    return float(np.arccos(min(1.0, max(-1.0, (float(np.trace(a.T @ b)) - 1) / 2))))


class _Line:
    """The straight TCP line from `start` to `goal`: position linear, orientation by slerp (the
    quaternion difference is computed once per segment)."""

    def __init__(self, start: Pose, goal: Pose):
        self.pos_a, self.delta_m = start.pos_m, goal.pos_m - start.pos_m
        self.qa, qb = start.quat_wxyz(), goal.quat_wxyz()
        if np.dot(self.qa, qb) < 0:
            qb = -qb
        self.rot_vel = np.zeros(3)
        mujoco.mju_subQuat(self.rot_vel, qb, self.qa)  # qb = qa * exp(rot_vel)

        self.length_m = float(np.linalg.norm(self.delta_m))
        self.angle_rad = _rotation_angle(start.rot, goal.rot)

    def pose(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        q = self.qa.copy()
        mujoco.mju_quatIntegrate(q, self.rot_vel, s)
        return self.pos_a + self.delta_m * s, matrix_np(q)


class _Arc:
    """The TCP carried about a fixed line (`pivot`, unit `axis`) by up to `angle_rad`: the path of
    a hand holding a door's handle. The hand turns by `hand_turn` x the angle (1: rigidly with the
    door; less: the round handle turns in the closed fingers by the rest)."""

    def __init__(self, start: Pose, pivot_m: np.ndarray, axis: np.ndarray, angle_rad: float, hand_turn: float = 1.0):
        self.start, self.pivot = start, np.asarray(pivot_m, dtype=float)
        self.axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
        self.total, self.hand_turn = float(angle_rad), float(hand_turn)
        r = start.pos_m - self.pivot
        self.length_m = float(np.linalg.norm(r - np.dot(r, self.axis) * self.axis)) * abs(self.total)
        self.angle_rad = abs(self.total * self.hand_turn)

    def pose(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        r = axis_angle_matrix(self.axis, s * self.total)
        return self.pivot + r @ (self.start.pos_m - self.pivot), axis_angle_matrix(self.axis, s * self.total * self.hand_turn) @ self.start.rot

    def end(self) -> Pose:
        return Pose(*self.pose(1.0))


def _duration_s(dist: float, ang: float, min_s: float) -> float:
    return max(min_s, 1.875 * dist / MAX_TCP_SPEED_M_S, float(np.sqrt(5.77 * dist / MAX_TCP_ACCEL_M_S2)),
               1.875 * ang / MAX_TCP_ANGULAR_SPEED_RAD_S)


def nominal_ticks(start: Pose, goal: Pose, dt_tick_s: float, min_duration_s: float = 0.4) -> int:
    """Ticks of the straight segment from `start` to `goal` at the TCP's speed limits, before
    `plan_segment` slows it down for the joints' (its length is at least this)."""
    line = _Line(start, goal)
    return max(2, int(np.ceil(_duration_s(line.length_m, line.angle_rad, min_duration_s) / dt_tick_s - 1e-9)))


def plan_segment(ik: ArmIK, start: Pose, goal: Pose, q_start: np.ndarray, dt_tick_s: float,
                 min_duration_s: float = 0.4, max_stretch: int = 4, avoid_obstacles: bool = False) -> np.ndarray:
    """Joint set-points (n_ticks, dof) after q_start, ending at `goal`; raises IKFailure."""
    return _plan_path(ik, _Line(start, goal), q_start, dt_tick_s, min_duration_s, max_stretch, avoid_obstacles)


class SegmentMemo:
    """`plan_segment`'s answers (the set-points, or the IKFailure's message) by their exact
    inputs: the two poses, the start joints, the timing, obstacle avoidance and the IK model's
    finger opening (`ArmIK.fingers_open`, which the collision avoidance sees). A segment is a
    function of these alone, so an answer given again is the one it would compute. One memo
    serves one planning call (planner.plan_pick_place): a grasp planned with its second placing,
    or in the pass turned half a turn, plans its approach, descent and lift again with the same
    inputs; on the meshed kitchen with the Franka those repeats were 86 of 362 segments and 2.8%
    of the episodes' CPU (a bowl's rim grasps, refused at the lift or the lowering, two placings
    each). The set-points returned are read-only and shared."""

    def __init__(self) -> None:
        self._answers: dict[bytes, np.ndarray | str] = {}

    def plan_segment(self, ik: ArmIK, start: Pose, goal: Pose, q_start: np.ndarray, dt_tick_s: float,
                     min_duration_s: float = 0.4, avoid_obstacles: bool = False) -> np.ndarray:
        key = b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in (
            start.pos_m, start.rot, goal.pos_m, goal.rot, q_start, ik.finger_opening_m,
            (dt_tick_s, min_duration_s, float(avoid_obstacles))))
        answer = self._answers.get(key)
        if answer is None:
            try:
                answer = plan_segment(ik, start, goal, q_start, dt_tick_s, min_duration_s,
                                      avoid_obstacles=avoid_obstacles)
                answer.flags.writeable = False
            except IKFailure as exc:
                answer = str(exc)
            self._answers[key] = answer
        if isinstance(answer, str):
            raise IKFailure(answer)
        return answer


def plan_arc(ik: ArmIK, start: Pose, pivot_m: np.ndarray, axis: np.ndarray, angle_rad: float, q_start: np.ndarray,
             dt_tick_s: float, min_duration_s: float = 0.4, hand_turn: float = 1.0) -> tuple[np.ndarray, Pose]:
    """Joint set-points (n_ticks, dof) after q_start carrying the TCP about the line (`pivot_m`,
    `axis`) by `angle_rad` (right-handed), the hand turning by `hand_turn` x that angle, with the
    same min-jerk timing and checks as a straight segment; and the pose it ends at. Raises IKFailure."""
    arc = _Arc(start, pivot_m, axis, angle_rad, hand_turn)
    return _plan_path(ik, arc, q_start, dt_tick_s, min_duration_s, 4, False), arc.end()


def _plan_path(ik: ArmIK, line, q_start: np.ndarray, dt_tick_s: float, min_duration_s: float, max_stretch: int,
               avoid_obstacles: bool) -> np.ndarray:
    vmax = np.array(ik.desc.max_velocity_rad_s) * LIMIT_FRACTION
    amax = np.array(ik.desc.max_acceleration_rad_s2) * LIMIT_FRACTION
    duration = _duration_s(line.length_m, line.angle_rad, min_duration_s)
    path = _joint_path(ik, line, q_start, avoid_obstacles)  # geometry once; stretching only retimes it
    for _ in range(max_stretch):
        n = max(2, int(np.ceil(duration / dt_tick_s - 1e-9)))
        qs = path(min_jerk(np.arange(1, n + 1) / n))
        full = np.vstack([q_start, qs])
        if np.max(np.abs(np.diff(full, axis=0))) > MAX_TICK_JUMP_RAD:
            raise IKFailure("IK branch flip along the Cartesian path")
        vel = np.diff(full, axis=0) / dt_tick_s
        acc = np.diff(np.vstack([np.zeros(len(q_start)), vel, np.zeros(len(q_start))]), axis=0) / dt_tick_s
        ratio = max(float(np.max(np.abs(vel) / vmax)), float(np.sqrt(np.max(np.abs(acc) / amax))))
        if ratio <= 1.0:
            return qs
        duration = n * dt_tick_s * ratio * 1.05
    raise IKFailure("joint velocity/acceleration limits not met after stretching the segment")


def _joint_path(ik: ArmIK, line, q_start: np.ndarray, avoid_obstacles: bool):
    """q(s) along the straight line, s in [0, 1]: IK on knots evenly spaced in s, a cubic spline
    between them. The spline's TCP is checked against the line at every midpoint between knots
    (forward kinematics, far cheaper than IK) and must be within PATH_TOL_M / PATH_TOL_RAD.
    Timing (min-jerk, stretching) then only resamples q(s).

    Refinement: a knot is added at every midpoint that is off the line (the other knots are kept;
    the new one is seeded from the spline), until every midpoint is within tolerance or there are
    MAX_KNOTS intervals. First-pass knots are seeded from the knot before them (a seed extrapolated
    from the two knots before was tried: fewer IK iterations, but the redundant joint drifts and
    the segments come out longer)."""
    knots = max(MIN_KNOTS, int(np.ceil(line.length_m / KNOT_SPACING_M)), int(np.ceil(line.angle_rad / KNOT_SPACING_RAD)))
    lower, upper = np.asarray(ik.desc.lower_rad, dtype=float), np.asarray(ik.desc.upper_rad, dtype=float)

    def solve(s: float, seed: np.ndarray) -> np.ndarray:
        pos, rot = line.pose(s)
        res = ik.solve(pos, rot, np.clip(seed, lower, upper), tol_m=1e-4, tol_rad=1e-3,  # 0.1 mm
                       avoid_obstacles=avoid_obstacles)
        if not res.ok():
            raise IKFailure(f"IK error {res.position_error_m * 1000:.1f} mm / {res.rotation_error_rad:.3f} rad")
        return res.q_rad

    s_knots = np.linspace(0.0, 1.0, knots + 1)
    q_knots = [np.asarray(q_start, dtype=float)]
    for s in s_knots[1:]:
        q_knots.append(solve(float(s), q_knots[-1]))
    q_arr = np.array(q_knots)
    while True:
        # not-a-knot cubic spline (the same curve as CubicSpline's default, built in half the time;
        # the knots checked finite here once, not by scipy at every build: 48 -> 40 us)
        if not np.isfinite(q_arr).all():
            raise IKFailure("IK gave a joint position that is not a finite number")
        spline = make_interp_spline(s_knots, q_arr, k=3, axis=0, check_finite=False)
        s_mid = 0.5 * (s_knots[1:] + s_knots[:-1])
        q_mid = spline(s_mid)
        off_m, off_rad = np.zeros(len(s_mid)), np.zeros(len(s_mid))
        for i, (s, q) in enumerate(zip(s_mid, q_mid)):
            pos, rot = line.pose(float(s))
            fk_pos, fk_rot = ik.tcp_pose(q)
            off_m[i], off_rad[i] = np.linalg.norm(fk_pos - pos), _rotation_angle(fk_rot, rot)
        bad = (off_m > PATH_TOL_M) | (off_rad > PATH_TOL_RAD)
        if not bad.any():
            return spline
        if len(s_knots) - 1 >= MAX_KNOTS:  # a branch flip between knots, or a path through a singularity
            raise IKFailure(f"joint path leaves the line by {off_m.max() * 1000:.1f} mm / {off_rad.max():.3f} rad")
        new_q = [solve(float(s), q) for s, q in zip(s_mid[bad], q_mid[bad])]
        order = np.argsort(np.concatenate([s_knots, s_mid[bad]]), kind="stable")
        s_knots = np.concatenate([s_knots, s_mid[bad]])[order]
        q_arr = np.vstack([q_arr, new_q])[order]


def joint_segment(q_start: np.ndarray, q_goal: np.ndarray, desc, dt_tick_s: float,
                  min_duration_s: float = 0.4) -> np.ndarray:
    """Jerk-limited joint-space move (ruckig), sampled at the ticks after q_start: (n_ticks, dof)."""
    import ruckig

    dof = len(q_start)
    inp = ruckig.InputParameter(dof)
    inp.current_position, inp.target_position = list(q_start), list(q_goal)
    inp.current_velocity = inp.current_acceleration = [0.0] * dof
    inp.target_velocity = inp.target_acceleration = [0.0] * dof
    inp.max_velocity = list(np.array(desc.max_velocity_rad_s) * JOINT_VEL_FRACTION)
    inp.max_acceleration = list(np.array(desc.max_acceleration_rad_s2) * JOINT_ACC_FRACTION)
    inp.max_jerk = list(np.array(desc.max_jerk_rad_s3) * JOINT_JERK_FRACTION)
    inp.minimum_duration = min_duration_s
    traj = ruckig.Trajectory(dof)
    result = ruckig.Ruckig(dof).calculate(inp, traj)
    if result not in (ruckig.Result.Working, ruckig.Result.Finished):
        raise IKFailure(f"ruckig could not time the joint move: {result}")
    n = max(2, int(np.ceil(traj.duration / dt_tick_s - 1e-9)))
    return np.array([traj.at_time(min(k * dt_tick_s, traj.duration))[0] for k in range(1, n + 1)])
