"""Robot models: kinematics against the published DH tables, limits, IK accuracy, gripper force."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from blueprint_pipeline.robots import FRANKA, UR10, add_home_key, names_for, robot_spec
from blueprint_pipeline.sim.ik import ArmIK


def _dh_modified(a, d, alpha, theta):
    ca, sa, ct, st = np.cos(alpha), np.sin(alpha), np.cos(theta), np.sin(theta)
    # Craig's closed form, written out independently of robots.dh
    return np.array([[ct, -st, 0, a], [st * ca, ct * ca, -sa, -sa * d], [st * sa, ct * sa, ca, ca * d], [0, 0, 0, 1]])


def _dh_standard(a, d, alpha, theta):
    ca, sa, ct, st = np.cos(alpha), np.sin(alpha), np.cos(theta), np.sin(theta)
    return np.array([[ct, -st * ca, st * sa, a * ct], [st, ct * ca, -ct * sa, a * st], [0, sa, ca, d], [0, 0, 0, 1]])


FRANKA_TABLE = [(0, 0.333, 0), (0, 0, -np.pi / 2), (0, 0.316, np.pi / 2), (0.0825, 0, np.pi / 2),
                (-0.0825, 0.384, -np.pi / 2), (0, 0, np.pi / 2), (0.088, 0, np.pi / 2)]
UR10_TABLE = [(0, 0.1273, np.pi / 2), (-0.612, 0, 0), (-0.5723, 0, 0), (0, 0.163941, np.pi / 2),
              (0, 0.1157, -np.pi / 2), (0, 0.0922, 0)]


def _reference_flange(desc, q):
    t = np.eye(4)
    if desc is FRANKA:
        for (a, d, al), th in zip(FRANKA_TABLE, q):
            t = t @ _dh_modified(a, d, al, th)
        t[:3, 3] += t[:3, 2] * 0.107
        return t
    for (a, d, al), th in zip(UR10_TABLE, q):
        t = t @ _dh_standard(a, d, al, th)
    return t


def _configs(desc, n=6):
    rng = np.random.default_rng(7)
    qs = [np.array(desc.home_rad), np.clip(np.zeros(desc.dof), desc.lower_rad, desc.upper_rad)]
    qs += [rng.uniform(desc.lower_rad, desc.upper_rad) for _ in range(n)]
    return qs


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_flange_pose_matches_published_dh_at_several_configurations(desc):
    spec, names = robot_spec(desc, (0.3, -0.2, 0.7), (np.cos(0.3), 0, 0, np.sin(0.3)))
    model = add_home_key(spec, desc)
    data = mujoco.MjData(model)
    for q in _configs(desc):
        for jn, v in zip(names.joints, q):
            data.qpos[model.joint(jn).qposadr[0]] = v
        mujoco.mj_kinematics(model, data)
        base = data.body(names.base_body)
        base_t = np.eye(4)
        base_t[:3, :3], base_t[:3, 3] = base.xmat.reshape(3, 3), base.xpos
        hand = data.body(names.hand_body)
        flange_world = base_t @ _reference_flange(desc, q)
        np.testing.assert_allclose(hand.xpos, flange_world[:3, 3], atol=1e-9)
        # the hand is the flange turned by the mounting yaw about the flange z axis
        np.testing.assert_allclose(hand.xmat.reshape(3, 3)[:, 2], flange_world[:3, 2], atol=1e-9)
        yaw = desc.hand_yaw_rad
        expected_x = np.cos(yaw) * flange_world[:3, 0] + np.sin(yaw) * flange_world[:3, 1]
        np.testing.assert_allclose(hand.xmat.reshape(3, 3)[:, 0], expected_x, atol=1e-9)


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_model_carries_published_limits_and_home_is_inside(desc):
    spec, names = robot_spec(desc)
    model = add_home_key(spec, desc)
    for i, jn in enumerate(names.joints):
        np.testing.assert_allclose(model.joint(jn).range, [desc.lower_rad[i], desc.upper_rad[i]])
        assert desc.lower_rad[i] < desc.home_rad[i] < desc.upper_rad[i]
        assert model.actuator(names.actuators[i]).gainprm[0] == desc.servo_kp[i]
    home = model.key("home").qpos
    for i, jn in enumerate(names.joints):
        assert home[model.joint(jn).qposadr[0]] == pytest.approx(desc.home_rad[i])
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_ik_reaches_targets_within_a_millimetre(desc):
    base = np.array([0.0, 0.0, 0.75])
    ik = ArmIK(desc, base, (1, 0, 0, 0))
    down = np.diag([1.0, -1.0, -1.0])
    rng = np.random.default_rng(3)
    for _ in range(6):
        target = base + np.array([rng.uniform(0.35, 0.65), rng.uniform(-0.3, 0.3), rng.uniform(0.05, 0.3)])
        res = ik.solve(target, down, ik.home_q)
        assert res.position_error_m < 1e-3 and res.rotation_error_rad < 1e-2, res
        assert np.all(res.q_rad >= np.array(desc.lower_rad) - 1e-6)
        assert np.all(res.q_rad <= np.array(desc.upper_rad) + 1e-6)
        pos, rot = ik.tcp_pose(res.q_rad)  # independent check through the compiled model
        assert np.linalg.norm(pos - target) < 1e-3
        assert np.abs(rot - down).max() < 1e-2


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_the_joint_limit_rows_are_minks_to_the_bit(desc):
    """ik.JointLimits computes mink.ConfigurationLimit's G and h itself (per IK iteration); they
    are the same numbers, in and out of range, fingers included."""
    import mink

    ik = ArmIK(desc, np.zeros(3), (1, 0, 0, 0))
    reference = mink.ConfigurationLimit(ik.model)
    rng = np.random.default_rng(7)
    lo, hi = ik.model.jnt_range[:, 0], ik.model.jnt_range[:, 1]
    for _ in range(20):
        q = rng.uniform(lo - 0.2, hi + 0.2)
        ik.configuration.update(q)
        want = reference.compute_qp_inequalities(ik.configuration, 0.1)
        assert np.array_equal(ik.joint_limits.G, want.G)
        assert np.array_equal(ik.joint_limits.h(ik.configuration.q), want.h)


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_tcp_pose_is_the_solvers_forward_kinematics_to_the_bit(desc):
    """ArmIK.tcp_pose runs mj_kinematics on an MjData of its own: the same pose, bit for bit, as
    the solver's configuration gives at those joints, and the configuration is left as it was."""
    ik = ArmIK(desc, np.array([0.1, -0.2, 0.75]), (0.9238795, 0, 0, 0.3826834))
    rng = np.random.default_rng(5)
    lo, hi = np.array(desc.lower_rad), np.array(desc.upper_rad)
    for _ in range(10):
        q_arm = rng.uniform(lo, hi)
        before = ik.configuration.q.copy()
        pos, rot = ik.tcp_pose(q_arm)
        assert np.array_equal(ik.configuration.q, before)
        q = ik.model.key("home").qpos.copy()
        q[ik.qadr] = q_arm
        ik.configuration.update(q)
        site = ik.configuration.data.site(ik.names.tcp_site)
        assert np.array_equal(pos, site.xpos) and np.array_equal(rot, site.xmat.reshape(3, 3))


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_ik_posture_residual_is_minks(desc):
    """ik.PostureResidual computes mink.PostureTask's weighted residual itself (per IK
    iteration): the same numbers, bit for bit, fingers included."""
    ik = ArmIK(desc, np.zeros(3), (1, 0, 0, 0))
    rng = np.random.default_rng(11)
    lo, hi = ik.model.jnt_range[:, 0], ik.model.jnt_range[:, 1]
    for _ in range(20):
        ik.configuration.update(rng.uniform(lo - 0.2, hi + 0.2))
        want = ik.posture_task.compute_qp_residual(ik.configuration)
        got = ik.posture.residual(ik.configuration.q)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and got[2] == want[2]


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_ik_gives_up_on_an_unreachable_pose_early_and_still_reaches_a_far_one(desc):
    from blueprint_pipeline.sim.ik import HOPELESS_AFTER

    base = np.array([0.0, 0.0, 0.75])
    ik = ArmIK(desc, base, (1, 0, 0, 0))
    down = np.diag([1.0, -1.0, -1.0])
    far_away = ik.solve(base + np.array([2.5, 0.0, 0.1]), down, ik.home_q)  # out of any arm's reach
    assert not far_away.ok() and HOPELESS_AFTER < far_away.iterations < 60
    # behind the base and low: far from home, reached after a long way round
    behind = ik.solve(base + np.array([-0.45, 0.25, 0.1]), down, ik.home_q)
    assert behind.ok(), behind


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_ik_gives_up_on_a_solve_stuck_against_an_obstacle(desc, monkeypatch):
    import blueprint_pipeline.sim.ik as ik_module
    from blueprint_pipeline.sim.ik import HOPELESS_AFTER, BoxObstacle

    base = np.array([0.0, 0.0, 0.75])
    table = BoxObstacle("table", (0.6, 0.0, 0.725), (1, 0, 0, 0), (0.3, 0.4, 0.025))  # its top at the base's height
    ik = ArmIK(desc, base, (1, 0, 0, 0), obstacles=[table])
    down = np.diag([1.0, -1.0, -1.0])
    # the TCP 3 cm above the top: the fingertips would be within the 1 cm clearance of the table
    stuck = ik.solve(base + np.array([0.55, 0.0, 0.03]), down, ik.home_q, avoid_obstacles=True)
    assert not stuck.ok() and stuck.iterations < HOPELESS_AFTER
    monkeypatch.setattr(ik_module, "FLAT_AFTER", 10**6)  # without the rule: more iterations, no nearer
    longer = ik.solve(base + np.array([0.55, 0.0, 0.03]), down, ik.home_q, avoid_obstacles=True)
    assert not longer.ok() and longer.iterations > stuck.iterations
    assert longer.position_error_m == pytest.approx(stuck.position_error_m, rel=0.01)
    # 10 cm above the top it is reached
    assert ik.solve(base + np.array([0.55, 0.0, 0.1]), down, ik.home_q, avoid_obstacles=True).ok()


def test_gripper_force_is_bounded_and_stroke_is_eight_centimetres():
    spec, names = robot_spec(FRANKA)
    model = add_home_key(spec, FRANKA)
    act = model.actuator(names.gripper_actuator)
    assert act.forcerange[1] * 0.5 == pytest.approx(70.0)  # 0.5 tendon coefficient per finger
    strokes = [model.joint(j).range[1] for j in names.finger_joints]
    assert sum(strokes) == pytest.approx(0.08)
    # closing on nothing: the fingers meet, the actuator force saturates at its bound
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    data.ctrl[act.id] = 0.0
    for _ in range(480):
        mujoco.mj_step(model, data)
    assert abs(data.actuator_force[act.id]) <= act.forcerange[1] + 1e-9
    assert data.qpos[model.joint(names.finger_joints[0]).qposadr[0]] < 0.002


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_arm_servos_push_at_most_the_rated_joint_torque(desc):
    """A set-point far past where the arm can go (here: a joint commanded 1 rad away in one step)
    gives the joint's rated torque, not kp x error."""
    spec, names = robot_spec(desc)
    model = add_home_key(spec, desc)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    for i, an in enumerate(names.actuators):
        act = model.actuator(an)
        assert act.forcelimited and list(act.forcerange) == [-desc.max_torque_nm[i], desc.max_torque_nm[i]]
        assert desc.servo_kp[i] * 1.0 > desc.max_torque_nm[i]  # unbounded, 1 rad of error would exceed it
    data.act[model.actuator_actadr[model.actuator(names.actuators[1]).id]] += 1.0
    mujoco.mj_step(model, data)
    forces = np.abs(data.actuator_force[[model.actuator(a).id for a in names.actuators]])
    assert forces[1] == pytest.approx(desc.max_torque_nm[1])
    assert np.all(forces <= np.array(desc.max_torque_nm) + 1e-9)


def test_names_are_prefixed_by_robot():
    assert names_for(UR10).tcp_site == "ur10_tcp"
    assert names_for(FRANKA).actuators[0] == "franka_act1"


def test_ik_collision_avoidance_keeps_the_hand_off_an_obstacle():
    from blueprint_pipeline.sim.ik import BoxObstacle

    table_top_z = 0.75
    table = BoxObstacle("table", (0.6, 0.0, table_top_z - 0.05), (1, 0, 0, 0), (0.3, 0.5, 0.05))
    ik = ArmIK(FRANKA, (0.0, 0.0, 0.75), (1, 0, 0, 0), obstacles=[table], min_clearance_m=0.01)
    down = np.diag([1.0, -1.0, -1.0])
    target = np.array([0.55, 0.0, table_top_z + 0.005])  # pads would sink 1.4 cm into the table
    free = ik.solve(target, down, ik.home_q)
    assert free.ok()
    guarded = ik.solve(target, down, ik.home_q, avoid_obstacles=True)
    assert not guarded.ok()
    data = ik.configuration.data
    obstacle = ik.model.geom("obstacle_table").id
    pads = [ik.model.geom(g).id for g in ik.names.pad_geoms]
    gaps = [mujoco.mj_geomDistance(ik.model, data, p, obstacle, 0.1, None) for p in pads]
    assert min(gaps) > 0.005, gaps


def test_the_ur10_upper_arm_and_forearm_collide_where_their_tubes_are():
    """The UR10's DH line runs through its shoulder and wrist; its upper arm tube stands 220.9 mm
    off that line along the shoulder-lift axis and its forearm 49 mm (the DH table folds both
    into d4). The link capsules follow the tubes, so the arm collides where a real one does."""
    import mujoco

    model = robot_spec(UR10)[0].compile()
    for link, off, length in (("ur10_link2", 0.2209, 0.612), ("ur10_link3", 0.049, 0.5723)):
        body = model.body(link).id
        caps = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body
                and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE]
        tube = max(caps, key=lambda g: model.geom_size[g][1])  # the longest: the tube
        assert model.geom_pos[tube][2] == pytest.approx(off)
        assert 2 * model.geom_size[tube][1] == pytest.approx(length, abs=1e-6)


@pytest.mark.parametrize("desc, bearing_deg, r, z", [(UR10, -180, 0.35, -0.25), (FRANKA, -150, 0.35, -0.25)],
                         ids=["ur10", "franka"])
def test_a_grasp_the_ik_misses_from_home_is_solved_from_the_seed_aimed_at_it(desc, bearing_deg, r, z):
    """Behind the arm and low, a top-down hand pose is not reached from home (the solve runs a
    joint to its limit); turned towards it first (`ArmIK.aimed_seed`), the same solve reaches it.
    `grasp.check_reachable` tries that seed when the first solve fails."""
    from blueprint_pipeline.sim.grasp import GraspCandidate, Pose, _hand_rotation, check_reachable

    ik = ArmIK(desc, (0, 0, 0), (1, 0, 0, 0))
    home = np.array(desc.home_rad)
    a = np.radians(bearing_deg)
    pos = np.array([r * np.cos(a), r * np.sin(a), z])
    rot = _hand_rotation(np.array([0, 0, -1.0]), np.array([np.sin(a), -np.cos(a), 0.0]))
    assert not ik.solve(pos, rot, home).ok()
    aimed = ik.aimed_seed(home, pos)
    assert aimed[0] != home[0] and np.array_equal(aimed[1:], home[1:])
    assert ik.solve(pos, rot, aimed).ok()
    above = GraspCandidate("top", Pose(pos, rot), np.array([0, 0, -1.0]), 0.05).pre_grasp.pos_m - pos
    cand = GraspCandidate("top", Pose(pos - above, rot), np.array([0, 0, -1.0]), 0.05)  # its pre-grasp is the pose
    np.testing.assert_allclose(cand.pre_grasp.pos_m, pos)
    assert check_reachable(cand, ik, home)


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_a_cartesian_segment_stays_on_its_line_between_its_knots(desc):
    """sim/trajectory.py solves IK on a knot every KNOT_SPACING_M and joins them by a spline: every
    tick of a 40 cm move keeps the TCP within 0.6 mm of the straight line, the hand's turn within
    6 mrad, and it ends on the goal."""
    from blueprint_pipeline.sim.trajectory import KNOT_SPACING_M, Pose, plan_segment

    base = np.array([0.0, 0.0, 0.75])
    ik = ArmIK(desc, base, (1, 0, 0, 0))
    down = np.diag([1.0, -1.0, -1.0])
    a, b = base + np.array([0.6, -0.2, 0.25]), base + np.array([0.6, 0.2, 0.1])
    q0 = ik.solve(a, down, ik.home_q).q_rad
    qs = plan_segment(ik, Pose(a, down), Pose(b, down), q0, 1.0 / 30)
    assert np.linalg.norm(b - a) > 3 * KNOT_SPACING_M
    axis = (b - a) / np.linalg.norm(b - a)
    for q in qs:
        pos, rot = ik.tcp_pose(q)
        off = (pos - a) - ((pos - a) @ axis) * axis
        assert np.linalg.norm(off) < 6e-4
        assert np.arccos(np.clip((np.trace(rot.T @ down) - 1) / 2, -1, 1)) < 6e-3
    assert np.linalg.norm(ik.tcp_pose(qs[-1])[0] - b) < 1e-3


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=["franka", "ur10"])
def test_an_obstacle_limit_judged_far_has_no_row_and_leaving_it_out_changes_no_solve(desc):
    """`FarFromObstacles`: wherever it judges the hand far from every obstacle box, mink's
    collision limit gives no row (every bound +inf); it judges both ways over random postures
    near turned and tilted boxes; and solves that avoid the boxes give the same joints, errors and
    iterations, bit for bit, with the limit left out where it is judged far as with it computed."""
    from blueprint_pipeline.rotations import yaw_quat
    from blueprint_pipeline.sim.ik import IK_DT_S, BoxObstacle, FarFromObstacles

    base = np.array([0.0, 0.0, 0.75])
    tilt = np.array([np.cos(0.2), np.sin(0.2), 0.0, 0.0])
    boxes = [BoxObstacle("table", (0.6, 0.0, 0.7), tuple(yaw_quat(0.3)), (0.3, 0.5, 0.05)),
             BoxObstacle("shelf", (0.0, 0.55, 1.1), tuple(tilt), (0.25, 0.1, 0.02)),
             BoxObstacle("wall", (-0.5, 0.0, 1.2), (1, 0, 0, 0), (0.02, 0.6, 0.5))]
    ik = ArmIK(desc, tuple(base), (1, 0, 0, 0), obstacles=boxes, min_clearance_m=0.005)
    (limit,) = ik.collision_limits
    far = ik._far[id(limit)]
    assert isinstance(far, FarFromObstacles)
    rng = np.random.default_rng(3)
    judged = {True: 0, False: 0}
    rows = 0
    for _ in range(400):
        q = ik._home_qpos.copy()
        q[ik.qadr] = rng.uniform(desc.lower_rad, desc.upper_rad)
        ik.configuration.update(q)
        h = limit.compute_qp_inequalities(ik.configuration, IK_DT_S).h
        judged[far(ik.configuration.data)] += 1
        rows += bool(np.isfinite(h).any())
        if far(ik.configuration.data):
            assert not np.isfinite(h).any()
    assert judged[True] > 50 and judged[False] > 25 and rows > 20, (judged, rows)
    down = np.diag([1.0, -1.0, -1.0])
    targets = [base + np.array([0.5 + 0.05 * k, -0.2 + 0.1 * k, 0.03 + 0.04 * k]) for k in range(5)]
    targets += [base + np.array([0.1, 0.45, 0.3]), base + np.array([-0.3, 0.1, 0.4])]

    def solves():
        return [ik.solve(t, down, ik.home_q, avoid_obstacles=True) for t in targets]

    with_test = solves()
    ik._far = {}
    computed = solves()
    for a, b in zip(with_test, computed, strict=True):
        assert np.array_equal(a.q_rad, b.q_rad)
        assert (a.position_error_m, a.rotation_error_rad, a.iterations) == (
            b.position_error_m, b.rotation_error_rad, b.iterations)
