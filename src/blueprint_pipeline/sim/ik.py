"""Inverse kinematics of the arm with mink (QP solver daqp), on a robot-only model.

The IK model holds the robot at the scene's base pose and, optionally, the static furniture as
obstacles: solves with `avoid_obstacles` add a `CollisionAvoidanceLimit` that keeps the hand and
fingers `min_clearance_m` away from them (the planner asks for it where the hand comes close to
furniture: tilted and side grasps; a top-down hand stays above the support by construction). Joint limits come from `ConfigurationLimit`; a light posture
task towards the home pose resolves the 7th degree of freedom.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import daqp
import mink
import mujoco
import numpy as np

from blueprint_pipeline.robots import RobotDescription, add_home_key, robot_spec
from blueprint_pipeline.robots.builder import WORLD_CONAFFINITY, WORLD_CONTYPE

ACCEPT_M, ACCEPT_RAD = 1e-3, 1e-2  # IKResult.ok()'s default tolerances
STALL_GAIN = 0.9  # an iteration that leaves both errors above 90% of the previous ones has stalled
# A solve still HOPELESS_M or more off after HOPELESS_AFTER iterations, and no better (by
# HOPELESS_GAIN) in position and rotation than HOPELESS_AFTER iterations before, is given up: an
# unreachable pose (in a shelf's row, under a board) never converges, and such solves spent 66-69%
# of the probes' IK iterations running to `max_iterations`. Measured on the corpus's probes (13,904
# solves, 1,202 of them failing): no solve that converged would have been given up; the slowest
# took 59 iterations, and some wandered 40-150 cm off for 15 iterations before converging.
HOPELESS_AFTER, HOPELESS_GAIN, HOPELESS_M = 20, 0.98, 0.005
# A solve whose position and rotation errors have both changed by at most FLAT_CHANGE of their
# value at each of its last FLAT_SPAN iterations (from FLAT_AFTER on), the pose not acceptable, is
# stuck (an arm against a joint limit or an obstacle: the error stays at 1.3 cm or 60 cm) and is
# given up. Measured on the corpus's episodes stage (Franka, 28,456 solves): 993 failing solves
# stopped 17,176 iterations earlier (12% of all), and no solve that converged met the rule (those
# that wander before converging change their error by far more per iteration).
FLAT_AFTER, FLAT_SPAN, FLAT_CHANGE = 6, 4, 0.005
IK_DT_S, IK_DAMPING = 0.1, 1e-4  # integration step of a velocity solution (a full step: dq = v * dt), LM damping


@dataclass(frozen=True)
class BoxObstacle:
    """A fixed box in world coordinates (half sizes along its own axes)."""

    name: str
    pos_m: tuple[float, float, float]
    quat_wxyz: tuple[float, float, float, float]
    half_size_m: tuple[float, float, float]


@dataclass(frozen=True)
class IKResult:
    q_rad: np.ndarray  # arm joints only
    position_error_m: float
    rotation_error_rad: float
    iterations: int

    def ok(self, tol_m: float = ACCEPT_M, tol_rad: float = ACCEPT_RAD) -> bool:
        return self.position_error_m <= tol_m and self.rotation_error_rad <= tol_rad


def _hinges_and_slides_only(model: mujoco.MjModel, what: str) -> None:
    """`what` computes mink's numbers itself only where mj_differentiatePos is a subtraction."""
    if model.nq != model.nv or np.any(model.jnt_qposadr != model.jnt_dofadr) or np.any(
            np.isin(model.jnt_type, (mujoco.mjtJoint.mjJNT_FREE, mujoco.mjtJoint.mjJNT_BALL))):
        raise ValueError(f"{what} needs a model of hinge and slide joints only")


class JointLimits:
    """mink.ConfigurationLimit's inequalities G dq <= h for a model of hinge and slide joints
    only, where mj_differentiatePos is a subtraction: G is constant ([P; -P], P selecting the
    limited joints) and h = gain x (upper - q, q - lower) on them, the same numbers mink computes
    (tests/test_robots.py). Computed here because mink's call (two mj_differentiatePos, a projection
    and stacking per IK iteration) was a fifth of an iteration's time."""

    def __init__(self, limit: mink.ConfigurationLimit, model: mujoco.MjModel):
        _hinges_and_slides_only(model, "JointLimits")
        self.idx = np.asarray(limit.indices, dtype=int)
        self.G = np.vstack([limit.projection_matrix, -limit.projection_matrix])
        self._gain = limit.gain
        # h = gain x ([upper; -lower] - [q; -q]) at the limited joints, in one pass: the same
        # numbers as gain x (upper - q) and gain x (q - lower) (negating is exact, and q - lower
        # is -lower + q)
        self._bounds = np.concatenate([limit.upper[self.idx], -limit.lower[self.idx]])
        self._twice, self._sign = np.concatenate([self.idx, self.idx]), np.repeat([1.0, -1.0], len(self.idx))

    def h(self, q: np.ndarray) -> np.ndarray:
        return self._gain * (self._bounds - self._sign * q[self._twice])


class PostureResidual:
    """mink.PostureTask.compute_qp_residual for a model of hinge and slide joints only: the error
    q - target (mj_differentiatePos with dt 1 is that subtraction), the weighted error
    cost x (-gain x error), the LM term lm_damping x |weighted error|^2 and the weighted Jacobian
    cost x identity, which is constant; the same numbers mink computes (tests/test_robots.py).
    Computed here because mink builds the identity and differentiates per IK iteration."""

    def __init__(self, task: mink.PostureTask, model: mujoco.MjModel):
        _hinges_and_slides_only(model, "PostureResidual")
        self.task = task
        self.jacobian = task.cost[:, None] * np.eye(model.nv)

    def residual(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        t = self.task
        weighted_error = t.cost * (-t.gain * (q - t.target_q))
        return self.jacobian, weighted_error, t.lm_damping * float(weighted_error @ weighted_error)


def as_slice(index: np.ndarray) -> slice | np.ndarray:
    """`index` as the slice it equals when it is a run of consecutive integers, else itself: an
    array index costs about a microsecond more (the IK's hand geoms, a robot's joints and
    actuators in episode._Indices)."""
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))
    return index


class FarFromObstacles:
    """Whether no pair of a `CollisionAvoidanceLimit` (hand geoms, obstacle boxes) can be within
    its detection distance at a configuration: then each of its rows is the one mink gives a pair
    farther than that (G 0, h +inf), which the QP never meets, and `ArmIK._step` leaves the limit
    out (its answers are the same, bit for bit: tests/test_robots.py). A lower bound of each
    pair's distance: the box's distance to the hand geom's centre (in the box's own frame) less
    the geom's bounding radius; a pair counts as far only past the detection distance plus
    FAR_SLACK_M, far more than MuJoCo's distance error. On the meshed kitchen with the Franka,
    seven of eight evaluations of the limit had no row: each cost about 30 us (mink's
    bounding-sphere sieve passes the counter's top, whose sphere is a metre across, and those
    distances are computed), this test about 10 us; the solves avoiding obstacles took 13% less."""

    FAR_SLACK_M = 1e-4

    def __init__(self, model: mujoco.MjModel, limit: mink.CollisionAvoidanceLimit):
        pairs = np.array(limit.geom_id_pairs, dtype=int).reshape(-1, 2)
        fixed = (model.geom_type == mujoco.mjtGeom.mjGEOM_BOX) & (model.body_weldid[model.geom_bodyid] == 0)
        # each pair as (moving geom, box fixed to the world); a limit with other pairs is never judged
        self.usable = bool(len(pairs)) and bool(np.all(fixed[pairs[:, 0]] != fixed[pairs[:, 1]]))
        if not self.usable:
            return
        moving = np.where(fixed[pairs[:, 0]], pairs[:, 1], pairs[:, 0])
        box = np.where(fixed[pairs[:, 0]], pairs[:, 0], pairs[:, 1])
        self.moving, boxes = np.unique(moving), np.unique(box)
        self._at = as_slice(self.moving)  # a hand's geoms are consecutive
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)  # the boxes' poses, once
        rot = data.geom_xmat[boxes].reshape(-1, 3, 3)
        # a point x in box b's frame: x @ R_b - c_b @ R_b, for all boxes at once (columns b, axis)
        self._rot = np.concatenate(list(rot), axis=1)  # (3, 3 x boxes)
        self._shift = np.einsum("bj,bji->bi", data.geom_xpos[boxes], rot).reshape(-1)
        self._half = model.geom_size[boxes].reshape(-1)
        # per (moving geom, box): how far apart the box and the geom's centre must be; pairs the
        # limit does not hold can never be near (-1)
        reach = np.full((len(self.moving), len(boxes)), -1.0)
        reach[np.searchsorted(self.moving, moving), np.searchsorted(boxes, box)] = (
            model.geom_rbound[moving] + limit.collision_detection_distance + self.FAR_SLACK_M)
        self._reach2 = np.where(reach > 0, reach * reach, -1.0)

    def __call__(self, data: mujoco.MjData) -> bool:
        out = np.abs(data.geom_xpos[self._at] @ self._rot - self._shift)
        out -= self._half
        np.maximum(out, 0.0, out=out)
        out *= out
        return bool(np.all(out.reshape(len(self.moving), -1, 3).sum(axis=2) > self._reach2))


def _flat(errors: list[tuple[float, float]]) -> bool:
    """Whether each step of `errors` (position, rotation) changed both by at most FLAT_CHANGE."""
    return all(abs(b_m - a_m) <= FLAT_CHANGE * a_m and abs(b_rad - a_rad) <= FLAT_CHANGE * a_rad
               for (a_m, a_rad), (b_m, b_rad) in zip(errors, errors[1:]))


class ArmIK:
    """Solves TCP pose -> arm joint angles, seeded from a given configuration."""

    def __init__(self, desc: RobotDescription, base_pos_m: Sequence[float], base_quat_wxyz: Sequence[float],
                 obstacles: Sequence[BoxObstacle] = (), min_clearance_m: float = 0.01,
                 posture_cost: float = 1e-3):
        spec, self.names = robot_spec(desc, tuple(base_pos_m), tuple(base_quat_wxyz))
        for ob in obstacles:
            g = spec.worldbody.add_geom()
            g.name = f"obstacle_{ob.name}"
            g.type = mujoco.mjtGeom.mjGEOM_BOX
            g.pos, g.quat, g.size = list(ob.pos_m), list(ob.quat_wxyz), list(ob.half_size_m)
            g.contype, g.conaffinity = WORLD_CONTYPE, WORLD_CONAFFINITY
        self.model = add_home_key(spec, desc)
        self.desc = desc
        self.base_pos_m = np.asarray(base_pos_m, dtype=float)
        self.qadr = np.array([self.model.joint(j).qposadr[0] for j in self.names.joints])
        self.finger_qadr = np.array([self.model.joint(j).qposadr[0] for j in self.names.finger_joints])
        self._home_qpos = self.model.key("home").qpos.copy()
        self._one_sided: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.configuration = mink.Configuration(self.model)
        self._lower, self._upper = np.asarray(desc.lower_rad, dtype=float), np.asarray(desc.upper_rad, dtype=float)
        self._fk = mujoco.MjData(self.model)  # tcp_pose's forward kinematics
        self._tcp = self.model.site(self.names.tcp_site).id
        self.configuration.update_from_keyframe("home")
        self.frame_task = mink.FrameTask(self.names.tcp_site, "site", position_cost=1.0, orientation_cost=1.0,
                                         lm_damping=1e-6)
        self.posture_task = mink.PostureTask(self.model, cost=posture_cost)
        self.posture_task.set_target(self.model.key("home").qpos.copy())
        self.joint_limits = JointLimits(mink.ConfigurationLimit(self.model), self.model)
        self.posture = PostureResidual(self.posture_task, self.model)
        # the stacked weighted Jacobians of the frame and posture tasks: the posture's rows are constant
        self._w = np.vstack([np.zeros((6, self.model.nv)), self.posture.jacobian])
        self.collision_limits: list[mink.Limit] = []
        if obstacles:
            hand_geoms = [self.model.geom(i).id for i in range(self.model.ngeom)
                          if self.model.body(self.model.geom_bodyid[i]).name in
                          (self.names.hand_body, f"{desc.name}_finger_left_body", f"{desc.name}_finger_right_body")]
            obstacle_geoms = [self.model.geom(f"obstacle_{ob.name}").id for ob in obstacles]
            self.collision_limits = [mink.CollisionAvoidanceLimit(
                self.model, [(hand_geoms, obstacle_geoms)], minimum_distance_from_collisions=min_clearance_m,
                collision_detection_distance=min_clearance_m + 0.05)]
        # per limit: the test that it has no row at a configuration (None: always computed)
        self._far = {id(lim): far for lim in self.collision_limits
                     for far in [FarFromObstacles(self.model, lim)] if far.usable}

    @contextmanager
    def fingers_open(self, per_finger_m: float | None):
        """Solves inside this block hold the fingers `per_finger_m` open (None: as at home, fully
        open), so that collision avoidance sees a pre-shaped hand as it is."""
        saved = self._home_qpos[self.finger_qadr].copy()
        if per_finger_m is not None:
            self._home_qpos[self.finger_qadr] = per_finger_m
        try:
            yield self
        finally:
            self._home_qpos[self.finger_qadr] = saved

    @property
    def finger_opening_m(self) -> np.ndarray:
        """The fingers' joints as the solves hold them now (`fingers_open`)."""
        return self._home_qpos[self.finger_qadr].copy()

    @property
    def home_q(self) -> np.ndarray:
        return np.array(self.desc.home_rad)

    def solve(self, target_pos_m: np.ndarray, target_rot: np.ndarray, seed_q: np.ndarray,
              max_iterations: int = 60, tol_m: float = 2e-5, tol_rad: float = 2e-4,
              avoid_obstacles: bool = False) -> IKResult:
        """Pose of the TCP in the world (position, 3x3 rotation) -> arm joints; with
        `avoid_obstacles` the hand keeps its clearance from the obstacle boxes."""
        q = self._home_qpos.copy()
        q[self.qadr] = seed_q
        self.configuration.update(q)
        target = mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(np.asarray(target_rot)),
                                                        np.asarray(target_pos_m, dtype=float))
        self.frame_task.set_target(target)
        limits = self.collision_limits if avoid_obstacles else []
        it, err_m, err_rad = 0, np.inf, np.inf
        errors: list[tuple[float, float]] = []
        for it in range(1, max_iterations + 1):
            self._step(limits)
            err = self.frame_task.compute_error(self.configuration)
            prev_m, prev_rad = err_m, err_rad
            err_m, err_rad = math.sqrt(err[:3] @ err[:3]), math.sqrt(err[3:] @ err[3:])
            errors.append((err_m, err_rad))
            if err_m < tol_m and err_rad < tol_rad:
                break
            if it > HOPELESS_AFTER and err_m > HOPELESS_M:
                was_m, was_rad = errors[it - 1 - HOPELESS_AFTER]
                if err_m > HOPELESS_GAIN * was_m and err_rad > HOPELESS_GAIN * was_rad:
                    break
            if it >= FLAT_AFTER and (err_m > ACCEPT_M or err_rad > ACCEPT_RAD) and _flat(errors[-FLAT_SPAN - 1:]):
                break
            # Stalled against a joint limit or an obstacle (mink's limits let the last tenths of a
            # millimetre converge very slowly): stop once the pose is acceptable and an iteration
            # gains less than STALL_GAIN, instead of spending the remaining iterations on it.
            stalled = err_m > STALL_GAIN * prev_m and err_rad > STALL_GAIN * prev_rad
            if stalled and err_m <= ACCEPT_M and err_rad <= ACCEPT_RAD:
                break
        return IKResult(self.nearest_turn(self.configuration.q[self.qadr].copy(), np.asarray(seed_q)),
                        err_m, err_rad, it)

    def nearest_turn(self, q: np.ndarray, seed_q: np.ndarray) -> np.ndarray:
        """`q` with each joint a whole turn nearer `seed_q` where it ended more than half a turn
        away and its limits allow: the same hand pose, which a joint-space move from the seed then
        reaches the short way. A UR10 solve from its start ended with the base joint 6.2 rad round
        (5.45 for -0.83), and the approach swept the arm a full turn through the cabinet below it."""
        lo, hi = self._lower, self._upper
        turns = np.round((q - seed_q) / (2 * np.pi))
        if not turns.any():  # the usual case: nothing to turn (q - 0.0 is q)
            return np.array(q, dtype=float)
        near = q - 2 * np.pi * turns
        ok = (near >= lo) & (near <= hi)
        return np.where(ok, near, q)

    def _step(self, limits: Sequence[mink.Limit]) -> None:
        """One iteration: the QP that mink.solve_ik(configuration, [frame, posture], IK_DT_S, "daqp",
        damping=IK_DAMPING, [ConfigurationLimit, *limits]) builds (mink's weighted task residuals
        and Levenberg-Marquardt terms, mink's limit inequalities; the posture's residual and the
        joint limits' as `PostureResidual` and `JointLimits` compute them), solved by daqp with
        the same arguments qpsolvers passes.
        Assembled here only to skip solve_ik's per-call problem object, solver dispatch and limit
        check: they were 40% of an iteration, and IK iterations are most of the planning time."""
        cfg = self.configuration
        w_frame, e_frame, mu_frame = self.frame_task.compute_qp_residual(cfg)
        _, e_post, mu_post = self.posture.residual(cfg.q)
        w = self._w
        w[:6] = w_frame
        h_mat = w.T @ w
        h_mat.flat[:: self.model.nv + 1] += IK_DAMPING + mu_frame + mu_post
        c = -(np.concatenate([e_frame, e_post]) @ w)
        g_mat, upper = self.joint_limits.G, self.joint_limits.h(cfg.q)
        rows = [r for r in (lim.compute_qp_inequalities(cfg, IK_DT_S) for lim in limits
                            if not (id(lim) in self._far and self._far[id(lim)](cfg.data))) if not r.inactive]
        if rows:
            g_mat = np.vstack([g_mat, *(r.G for r in rows)])
            upper = np.hstack([upper, *(r.h for r in rows)])
        if len(upper) not in self._one_sided:  # no lower bounds, all rows inequalities
            self._one_sided[len(upper)] = (np.full(len(upper), -1e30), np.zeros(len(upper), dtype=ctypes.c_int))
        dq, _, exitflag, _ = daqp.solve(h_mat, c, g_mat, upper, *self._one_sided[len(upper)])
        if exitflag <= 0:
            raise mink.NoSolutionFound("daqp")
        cfg.integrate_inplace(dq / IK_DT_S, IK_DT_S)

    def solve_from_start(self, target_pos_m: np.ndarray, target_rot: np.ndarray, seed_q: np.ndarray,
                         avoid_obstacles: bool = False) -> IKResult:
        """`solve` for a grasp's pre-grasp, which a joint-space move reaches from the start
        (`grasp.check_reachable`): when the solve from `seed_q` fails, once more from
        `aimed_seed`. A handle's pre-grasp and a push's first pose were tried the same way:
        both corpora gave identical rows, so they solve once."""
        res = self.solve(target_pos_m, target_rot, seed_q, avoid_obstacles=avoid_obstacles)
        if res.ok():
            return res
        return self.solve(target_pos_m, target_rot, self.aimed_seed(seed_q, target_pos_m),
                          avoid_obstacles=avoid_obstacles)

    def aimed_seed(self, seed_q: np.ndarray, target_pos_m: np.ndarray) -> np.ndarray:
        """`seed_q` with the first joint (the base's turn about the vertical) turned so the TCP
        points from the base towards `target_pos_m` in plan view: the second seed of
        `solve_from_start`. From the episode's start, a UR10 solve ran its shoulder a full turn to
        its -2 pi limit and stopped 20 cm off a remote 44 cm from the base; from the aimed seed it
        converged (10 of 10 starts of that task)."""
        tcp = self.tcp_pose(seed_q)[0]
        now = np.arctan2(tcp[1] - self.base_pos_m[1], tcp[0] - self.base_pos_m[0])
        want = np.arctan2(target_pos_m[1] - self.base_pos_m[1], target_pos_m[0] - self.base_pos_m[0])
        q = np.array(seed_q, dtype=float, copy=True)
        q[0] += (want - now + np.pi) % (2 * np.pi) - np.pi
        return np.clip(q, self.desc.lower_rad, self.desc.upper_rad)

    def branch_seeds(self, q: np.ndarray) -> list[np.ndarray]:
        """Seeds near the arm's other postures at the hand pose of posture `q` (none unless
        `RobotDescription.ik_branch_flips`): `q` with its elbow flipped (the upper arm and forearm
        mirrored about the shoulder-wrist line, the first wrist joint keeping the hand's pitch),
        its wrist flipped (first wrist joint half a turn, second negated, third half a turn) and
        its shoulder turned half a turn (the upper arm mirrored about the vertical), and their
        combinations: 7 seeds, each joint within +-pi. From hand-down poses around a UR10,
        solves from them reached 7.1 distinct postures on average (of 8 at most; 4 and 8 seeds
        drawn at random over the joint ranges reached 2.1 and 3.2)."""
        if not self.desc.ik_branch_flips:
            return []
        q = np.asarray(q, dtype=float)
        elbow = q.copy()
        elbow[1], elbow[2], elbow[3] = q[1] + q[2], -q[2], q[3] + q[2]
        postures = []
        for b in (q, elbow):
            wrist = b.copy()
            wrist[3], wrist[4], wrist[5] = b[3] + np.pi, -b[4], b[5] + np.pi
            postures += [b, wrist]
        seeds = []
        for b in postures:
            shoulder = b.copy()
            shoulder[0], shoulder[1], shoulder[2], shoulder[3], shoulder[4] = (
                b[0] + np.pi, -np.pi - b[1], -b[2], -np.pi - b[3], -b[4])
            seeds += [b, shoulder]
        return [(s + np.pi) % (2 * np.pi) - np.pi for s in seeds[1:]]

    def tcp_pose(self, q_arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward kinematics of the IK model: TCP position and rotation in the world (on an
        MjData of its own: the solver's configuration is left as it is; mj_kinematics alone gives
        the site's pose, and mink's update, which adds mj_comPos, and its named site accessor
        took twice as long; the planner asks for this at every midpoint of every path)."""
        d = self._fk
        d.qpos[:] = self._home_qpos
        d.qpos[self.qadr] = q_arm
        mujoco.mj_kinematics(self.model, d)
        return d.site_xpos[self._tcp].copy(), d.site_xmat[self._tcp].reshape(3, 3).copy()
