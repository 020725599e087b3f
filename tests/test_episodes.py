"""Episodes: a successful pick_place, FK consistency of the recording, failure reasons, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from blueprint_pipeline.robots import FRANKA
from blueprint_pipeline.robots.dh import forward_kinematics, rot_z, trans
from blueprint_pipeline.sim.episode import EpisodeOptions
from blueprint_pipeline.sim.families import run_episode
from blueprint_pipeline.sim.episode_io import load_episode, save_episode
from blueprint_pipeline.rotations import matrix_np as quat_to_mat
from blueprint_pipeline.sim.scene_builder import FPS, build_sim_scene
from blueprint_pipeline.testing.tabletop import tabletop_scene


def _sim(with_clutter: bool, base=None):
    scene, physics, config = tabletop_scene(with_clutter=with_clutter)
    task = config.tasks[0]
    pl = task.robot_placements["franka"]
    base_pos = pl.base_position_m if base is None else base
    return build_sim_scene(scene, physics, FRANKA, base_pos, pl.base_orientation_wxyz), task


@pytest.fixture(scope="module")
def single():
    sim, task = _sim(with_clutter=False)
    return sim, task, run_episode(sim, task, 0, seed=11)


def _tcp_from_dh(base_pos, base_quat, q):
    base = np.eye(4)
    base[:3, :3], base[:3, 3] = quat_to_mat(base_quat), base_pos
    flange = forward_kinematics(FRANKA.dh, q, "modified", FRANKA.flange_transform())
    return base @ flange @ rot_z(FRANKA.hand_yaw_rad) @ trans(0, 0, FRANKA.gripper.tcp_offset_m)


def test_single_object_pick_place_succeeds(single):
    _, task, rec = single
    assert rec.success, (rec.failure_reason, rec.metrics["checks"])
    assert rec.failure_reason is None
    assert rec.fps == FPS and rec.length > 100
    assert rec.done[-1] and not rec.done[:-1].any()
    assert rec.success_flags[-1] and not rec.success_flags[0]
    assert rec.reward[-1] >= 1.0
    # the recorded object ends inside the goal rectangle, its start was elsewhere
    j = rec.object_ids.index(task.target_object_id)
    end, start = rec.object_poses[-1, 7 * j:7 * j + 3], rec.object_poses[0, 7 * j:7 * j + 3]
    # the goal spot drawn for this episode: within 5 cm of the task's, and the object ends inside it
    drawn = np.asarray(rec.metrics["goal_center_m"])
    assert np.allclose(drawn[:2] - task.goal.center_m[:2], rec.metrics["goal_offset_m"])
    assert 0.0 < np.abs(rec.metrics["goal_offset_m"]).max() <= 0.05
    assert np.all(np.abs(end[:2] - drawn[:2]) <= np.array(task.goal.size_m) / 2)
    assert np.linalg.norm(end[:2] - start[:2]) > 0.1
    assert rec.metrics["placement_error_m"] < 0.01
    # the dataset's environment state: the target's pose, the goal point, no joint
    assert rec.task_state.shape == (rec.length, 12)
    assert np.array_equal(rec.task_state[:, :7], rec.object_poses[:, 7 * j:7 * j + 7])
    goal = (*drawn[:2], task.goal.surface_z_m)
    assert np.allclose(rec.task_state[:, 7:10], goal) and not rec.task_state[:, 10:].any()
    # the gripper closed on the object: width ~ its 6 cm during transport, actions say closed
    carrying = (rec.contact[:, 0] == 1) & (rec.contact[:, 1] == 1)
    assert carrying.sum() > 30
    assert abs(np.median(rec.state[carrying, -1]) - 0.06) < 0.002  # the pads squeeze the 6 cm box
    assert np.all(rec.action[carrying, -1] >= 0.0)
    assert rec.action[:, -1].max() == 1.0 and rec.action[0, -1] == 0.0


def test_recorded_ee_pose_matches_forward_kinematics_of_recorded_joints(single):
    sim, _, rec = single
    dof = FRANKA.dof
    for k in range(0, rec.length, 7):
        t = _tcp_from_dh(sim.base_pos_m, sim.base_quat_wxyz, rec.state[k, :dof].astype(float))
        assert np.linalg.norm(t[:3, 3] - rec.ee_pose[k, :3]) < 1e-3, k
        rot_rec = quat_to_mat(rec.ee_pose[k, 3:].astype(float))
        assert np.abs(rot_rec - t[:3, :3]).max() < 1e-3, k


def test_servo_tracks_the_commanded_set_points_within_millimetres(single):
    sim, _, rec = single
    dof = FRANKA.dof
    # action[k] is the set-point for tick k+1: compare it with the state reached there
    errs = []
    for k in range(rec.length - 1):
        want = _tcp_from_dh(sim.base_pos_m, sim.base_quat_wxyz, rec.action[k, :dof].astype(float))[:3, 3]
        got = rec.ee_pose[k + 1, :3]
        errs.append(np.linalg.norm(want - got))
    assert np.median(errs) < 0.002 and max(errs) < 0.006


def test_object_out_of_reach_fails_with_ik_failure():
    sim, task = _sim(with_clutter=False, base=(-0.9, 0.0, 0.75))
    rec = run_episode(sim, task, 0, seed=0)
    assert not rec.success and rec.failure_reason == "ik_failure"
    assert rec.length == 1 and not rec.images


def test_same_seed_same_episode_and_other_index_other_start():
    sim, task = _sim(with_clutter=True)
    c = run_episode(sim, task, 4, seed=5)
    b = run_episode(sim, task, 3, seed=5)  # after another episode on the same compiled scene
    fresh, _ = _sim(with_clutter=True)
    a = run_episode(fresh, task, 3, seed=5)  # the first episode of a newly built scene (another worker)
    for key in ("state", "velocity", "ee_pose", "object_poses", "action", "contact", "reward"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.metrics["start_offset_m"] == b.metrics["start_offset_m"]
    assert a.metrics["start_offset_m"] != c.metrics["start_offset_m"]


def test_randomisation_stays_within_its_ranges_among_clutter():
    sim, task = _sim(with_clutter=True)
    offsets, yaws, ok = [], [], 0
    for i in range(6):
        rec = run_episode(sim, task, i, seed=1)
        offsets.append(rec.metrics["start_offset_m"])
        yaws.append(rec.metrics["start_yaw_rad"])
        ok += rec.success
    offsets, yaws = np.array(offsets), np.array(yaws)
    assert np.all(np.abs(offsets) <= 0.08) and np.all(np.abs(yaws) <= np.pi / 4)
    assert np.ptp(offsets[:, 0]) > 0.02 and np.ptp(yaws) > 0.1
    assert ok == 6


def test_episode_file_round_trip_and_rendering_off_means_no_images(single, tmp_path):
    _, _, rec = single
    url = str(tmp_path / "episode_000000.npz")
    save_episode(url, rec)
    back = load_episode(url)
    assert back.images == {} and back.success and back.metrics["checks"] == rec.metrics["checks"]
    np.testing.assert_array_equal(back.ee_pose, rec.ee_pose)


def test_rendering_gives_scene_and_wrist_images():
    sim, task = _sim(with_clutter=False)
    rec = run_episode(sim, task, 0, seed=11, options=EpisodeOptions(render=True, image_size=64))
    assert set(rec.images) == {"scene_cam", "wrist_cam"}
    for frames in rec.images.values():
        assert frames.shape == (rec.length, 64, 64, 3) and frames.dtype == np.uint8
        assert frames.std() > 5  # not a blank image
        assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 0.5  # the scene changed


def test_ur10_with_the_same_gripper_picks_and_places():
    from blueprint_pipeline.robots import UR10

    scene, physics, config = tabletop_scene(with_clutter=False)
    task = config.tasks[0]
    pl = task.robot_placements["ur10"]
    sim = build_sim_scene(scene, physics, UR10, pl.base_position_m, pl.base_orientation_wxyz)
    rec = run_episode(sim, task, 0, seed=2)
    assert rec.success, (rec.failure_reason, rec.metrics.get("checks"))
    assert rec.robot == "ur10" and rec.state.shape[1] == 7  # 6 joints + gripper width


def test_mass_and_friction_are_drawn_within_the_physics_ranges():
    import mujoco

    from blueprint_pipeline.sim.randomize import apply_randomization, episode_rng

    sim, task = _sim(with_clutter=True)
    for i in range(5):
        d = mujoco.MjData(sim.model)
        mujoco.mj_resetDataKeyframe(sim.model, d, sim.model.key("home").id)
        rand = apply_randomization(sim, d, task.target_object_id, episode_rng("tabletop", task.task_id, 0, i))
        for oid in sim.dynamic_ids:
            ranges = sim.physics[oid].randomization
            assert ranges.mass_kg[0] <= sim.model.body_mass[sim.body_id(oid)] <= ranges.mass_kg[1]
            assert ranges.static_friction[0] <= sim.model.geom_friction[sim.geom_id(oid), 0] <= ranges.static_friction[1]
            assert rand.mass_kg[oid] == sim.model.body_mass[sim.body_id(oid)]
    sim.restore_nominal()
    assert sim.model.body_mass[sim.body_id("mug")] == sim.physics["mug"].mass_kg


def _checked_plan(single):
    """The single-object scene's pick_place plan from its settled start, and the whole-arm scene
    check it passed: (indices, target id, check, plan)."""
    import mujoco

    from blueprint_pipeline.sim.episode import _indices, _object_box, start_data
    from blueprint_pipeline.sim.planner import plan_pick_place
    from blueprint_pipeline.sim.scene_check import SceneCheck

    sim, task, _ = single
    ix, target = _indices(sim), task.target_object_id
    d = start_data(sim, target)
    sim.restore_nominal()
    mujoco.mj_forward(sim.model, d)
    check = SceneCheck(sim, d, ix, target, task.goal.support_object_id)
    plan = plan_pick_place(ix.ik, _object_box(sim, d, target), [], task.goal, d.qpos[ix.arm_qadr].copy(),
                           1.0 / FPS, check=check)
    return ix, target, check, plan


def test_plan_check_refuses_a_retreat_that_touches_the_placed_object(single):
    import dataclasses

    ix, target, check, plan = _checked_plan(single)
    assert check.plan(plan) is None
    # the same plan, but the open hand comes down 4 cm onto the box it has just put down
    first, last = plan.phase_ticks["retreat"]
    tcp, rot = ix.ik.tcp_pose(plan.q[first - 1])
    res = ix.ik.solve(tcp - np.array([0.0, 0.0, 0.04]), rot, plan.q[first - 1])
    assert res.ok()
    q = plan.q.copy()
    q[first:last + 1] = res.q_rad
    assert check.plan(dataclasses.replace(plan, q=q)) == f"the hand or arm meets {target} while retreat"


def test_a_scene_check_lays_the_scene_out_once_and_answers_the_same(single):
    """SceneCheck keeps what it knows of the scene per (target, goal support) on the scene:
    a second check shares it read-only and gives the same answers."""
    from blueprint_pipeline.sim.scene_check import SceneCheck

    ix, target, check, plan = _checked_plan(single)
    sim, task, _ = single
    again = SceneCheck(sim, check.d, ix, target, task.goal.support_object_id)
    assert again._geom_class is check._geom_class and again.owner is check.owner
    assert not again.target_mask.flags.writeable
    assert again.plan(plan) is None and again.start_pose(plan.q[0]) == check.start_pose(plan.q[0])
    other = SceneCheck(sim, check.d, ix, target, None)  # another goal support: laid out anew
    assert other.support_mask is not check.support_mask


def test_a_scene_check_skips_the_target_on_its_supports_which_it_never_counts(single):
    """`_hit`'s rule never refuses a contact between the target and one of its supports, in any
    mode and at any depth, so `_checking` keeps MuJoCo from computing those pairs (`_quiet`): the
    resting target's contacts with its table are gone inside a check and back after it, and the
    check's answers are those it gives with every pair computed."""
    import dataclasses

    import mujoco

    from blueprint_pipeline.sim import scene_check as sc
    from blueprint_pipeline.sim.episode import _scratch_data

    robot_bits = sc._ROBOT | sc._MOVING | sc._ON_FLOOR | sc._ARM  # only robot geoms have these
    for part, carried, placed in itertools.product((False, True), repeat=3):
        table = sc._rule_table(part, carried, placed)
        for c1 in range(128):
            for c2 in range(128):
                if (c1 & sc._TARGET and not c1 & robot_bits and c2 & sc._SUPPORT
                        and not c2 & (robot_bits | sc._TARGET)):
                    assert not table[c1, c2].any() and not table[c2, c1].any(), (c1, c2, part, carried, placed)
    ix, target, check, plan = _checked_plan(single)
    sim = single[0]
    m = sim.model
    assert len(check._quiet) > 0
    scratch = _scratch_data(sim)

    def target_on_support() -> int:
        mujoco.mj_collision(m, scratch)
        g = scratch.contact.geom[:scratch.ncon]
        return int(np.sum((check.target_mask[g[:, 0]] & check.support_mask[g[:, 1]])
                          | (check.target_mask[g[:, 1]] & check.support_mask[g[:, 0]])))

    check._pose(scratch, plan.q[0], 0.04)
    assert target_on_support() > 0
    with check._checking():
        assert target_on_support() == 0
    assert target_on_support() > 0
    first, last = plan.phase_ticks["retreat"]
    q = plan.q.copy()
    tcp, rot = ix.ik.tcp_pose(plan.q[first - 1])
    q[first:last + 1] = ix.ik.solve(tcp - np.array([0.0, 0.0, 0.04]), rot, plan.q[first - 1]).q_rad
    answers = [check.plan(plan), check.plan(dataclasses.replace(plan, q=q))]
    check._quiet = check._quiet[:0]
    assert [check.plan(plan), check.plan(dataclasses.replace(plan, q=q))] == answers == [
        None, f"the hand or arm meets {target} while retreat"]


def test_a_scene_check_skips_the_hand_on_the_target_where_it_never_counts(single):
    """`_hit`'s rule never refuses a contact between the hand and the target but after the release
    and on the approach (`placed`), so `plan` keeps MuJoCo from computing those pairs elsewhere
    (`_held_bits`): at a carried tick the hand's contacts with the target are gone and every other
    contact is as before, the model's bits are back after the check, and its answers are those it
    gives with every pair computed."""
    import dataclasses

    import mujoco

    from blueprint_pipeline.sim import scene_check as sc
    from blueprint_pipeline.sim.episode import _scratch_data

    robot_bits = sc._ROBOT | sc._MOVING | sc._ON_FLOOR | sc._ARM
    for part, carried in itertools.product((False, True), repeat=2):
        table = sc._rule_table(part, carried, False)
        for c1 in range(128):
            for c2 in range(128):
                if c1 & sc._ROBOT and not c1 & sc._ARM and c2 & sc._TARGET and not c2 & robot_bits:
                    assert not table[c1, c2].any() and not table[c2, c1].any(), (c1, c2, part, carried)
    ix, _, check, plan = _checked_plan(single)
    sim = single[0]
    m = sim.model
    assert check._held is not None
    is_hand = np.zeros(m.ngeom, bool)
    is_hand[check.hand] = True
    scratch = _scratch_data(sim)
    contype, affinity = m.geom_contype.copy(), m.geom_conaffinity.copy()

    def contacts():
        mujoco.mj_collision(m, scratch)
        return {(int(g1), int(g2), round(float(x), 9)) for (g1, g2), x in
                zip(scratch.contact.geom[:scratch.ncon], scratch.contact.dist[:scratch.ncon])}

    def hand_on_target(c):
        return (is_hand[c[0]] and check.target_mask[c[1]]) or (is_hand[c[1]] and check.target_mask[c[0]])

    check._pose(scratch, plan.q[plan.phase_ticks["close"][1]], 0.0)  # the hand closed on the target
    with check._checking(sc.PLAN_CLEARANCE_M):
        everything = contacts()
        with sc._Switch(m, check._held) as held:
            held.set(True)
            skipped = contacts()
            held.set(False)
            assert contacts() == everything
            held.set(True)
    assert any(hand_on_target(c) for c in everything)
    assert skipped == {c for c in everything if not hand_on_target(c)}
    assert np.array_equal(m.geom_contype, contype) and np.array_equal(m.geom_conaffinity, affinity)
    last = plan.phase_ticks["lower"][1]
    q = plan.q.copy()
    tcp, rot = ix.ik.tcp_pose(plan.q[last])
    q[last - 2:last + 1] = ix.ik.solve(tcp - np.array([0.0, 0.0, 0.1]), rot, plan.q[last]).q_rad  # into the table
    answers = [check.plan(plan), check.plan(dataclasses.replace(plan, q=q))]
    assert np.array_equal(m.geom_contype, contype) and np.array_equal(m.geom_conaffinity, affinity)
    check._held = None
    assert [check.plan(plan), check.plan(dataclasses.replace(plan, q=q))] == answers
    assert answers[0] is None and answers[1].startswith("the carried object or the arm meets"), answers


def test_a_plan_check_memo_answers_as_the_check_does_once_per_plan(single):
    """planner._CheckMemo: the scene check's answer for each plan (a copy of one asked before
    included) computed once, and a plan that differs in its set-points or its ticks already
    checked asked anew."""
    import dataclasses

    from blueprint_pipeline.sim.planner import _CheckMemo

    ix, target, check, plan = _checked_plan(single)
    first, last = plan.phase_ticks["retreat"]
    q = plan.q.copy()
    tcp, rot = ix.ik.tcp_pose(plan.q[first - 1])
    q[first:last + 1] = ix.ik.solve(tcp - np.array([0.0, 0.0, 0.04]), rot, plan.q[first - 1]).q_rad
    lowered = dataclasses.replace(plan, q=q)
    asked = []

    class Counting:
        def plan(self, p):
            asked.append(p)
            return check.plan(p)

    memo = _CheckMemo(Counting())
    copy = dataclasses.replace(plan, q=plan.q.copy(), gripper=plan.gripper.copy(), phase=list(plan.phase))
    answers = [memo(plan), memo(copy), memo(lowered), memo(lowered)]
    assert answers == [check.plan(plan), check.plan(plan), check.plan(lowered), check.plan(lowered)]
    assert answers[0] is None and answers[2] == f"the hand or arm meets {target} while retreat"
    assert len(asked) == 2
    memo(dataclasses.replace(plan, checked_through=plan.phase_ticks["close"][1]))
    assert len(asked) == 3


def test_a_segment_memo_answers_as_plan_segment_does(single, monkeypatch):
    """trajectory.SegmentMemo: the set-points plan_segment gives, computed once per exact input
    (the IK model's finger opening included), and its IKFailure again for an unreachable goal."""
    from blueprint_pipeline.sim import trajectory
    from blueprint_pipeline.sim.episode import _indices
    from blueprint_pipeline.sim.trajectory import IKFailure, Pose, SegmentMemo

    sim, _, rec = single
    ik = _indices(sim).ik
    q0 = rec.state[0, :7].astype(float)
    start = Pose(*ik.tcp_pose(q0))
    goal = Pose(start.pos_m + np.array([0.0, 0.05, -0.1]), start.rot)
    far = Pose(start.pos_m + np.array([3.0, 0.0, 0.0]), start.rot)
    want = trajectory.plan_segment(ik, start, goal, q0, 1.0 / FPS, 0.4, avoid_obstacles=True)
    with pytest.raises(IKFailure) as first:
        trajectory.plan_segment(ik, start, far, q0, 1.0 / FPS, 0.4)
    calls = []
    real = trajectory.plan_segment
    monkeypatch.setattr(trajectory, "plan_segment", lambda *a, **k: calls.append(1) or real(*a, **k))
    memo = SegmentMemo()
    got = memo.plan_segment(ik, start, goal, q0, 1.0 / FPS, 0.4, True)
    assert np.array_equal(got, want) and not got.flags.writeable
    assert memo.plan_segment(ik, start, goal, q0.copy(), 1.0 / FPS, 0.4, True) is got and len(calls) == 1
    with ik.fingers_open(0.01):  # another finger opening: collision avoidance sees another hand
        memo.plan_segment(ik, start, goal, q0, 1.0 / FPS, 0.4, True)
    assert len(calls) == 2
    for _ in range(2):
        with pytest.raises(IKFailure) as again:
            memo.plan_segment(ik, start, far, q0, 1.0 / FPS, 0.4, False)
        assert str(again.value) == str(first.value)
    assert len(calls) == 3


def test_arm_start_is_drawn_per_episode_within_its_range():
    from blueprint_pipeline.sim.episode import _indices

    sim, task = _sim(with_clutter=True)
    ix = _indices(sim)
    home = ix.home[ix.arm_qadr]
    recs = [run_episode(sim, task, i, seed=5) for i in range(3)]
    offsets = [np.asarray(r.metrics["start_arm_offset_rad"]) for r in recs]
    for rec, off in zip(recs, offsets):
        assert not rec.metrics["start_arm_fallback"]
        assert 0.01 < np.abs(off).max() <= 0.1 + 1e-9
        # the first recorded frame is the drawn start: the servos held it through the settling
        assert np.abs(rec.state[0, :7] - (home + off)).max() < 0.01
    assert not np.allclose(offsets[0], offsets[1])
    again = run_episode(sim, task, 0, seed=5)
    assert np.allclose(again.metrics["start_arm_offset_rad"], offsets[0])  # reproducible
    # the arm's draw has a stream of its own: the target's start is the same with or without it
    fixed = run_episode(sim, task, 0, seed=5, options=EpisodeOptions(arm_start_rad=0.0))
    assert np.allclose(fixed.metrics["start_arm_offset_rad"], 0.0)
    assert fixed.metrics["start_offset_m"] == recs[0].metrics["start_offset_m"]
    assert np.abs(fixed.state[0, :7] - home).max() < 0.01


def test_arm_start_keeps_the_nominal_pose_when_every_draw_meets_the_scene():
    from blueprint_pipeline.sim.episode import _indices, start_data
    from blueprint_pipeline.sim.randomize import ARM_START_DRAWS, randomize_arm_start

    sim, task = _sim(with_clutter=False)
    ix = _indices(sim)
    d = start_data(sim, task.target_object_id)
    q0 = d.qpos[ix.arm_qadr].copy()
    asked = []
    offset, fallback = randomize_arm_start(d, ix, lambda q: asked.append(q) or "meets the table",
                                           np.random.default_rng(0), 0.1)
    assert fallback and len(asked) == ARM_START_DRAWS and np.all(offset == 0.0)
    assert np.array_equal(d.qpos[ix.arm_qadr], q0)


def test_stack_puts_the_target_on_the_base_object_and_it_stays():
    from blueprint_pipeline.geniesim.records import GoalRegion
    from blueprint_pipeline.sim.families import plan_at_rest

    sim, pick = _sim(with_clutter=True)
    z = 0.75
    # box_b (10 x 6 x 6 cm, a free object) stands at (0.38, -0.32); the 6 x 6 x 10 cm target goes on top of it
    task = pick.model_copy(update={
        "task_id": "stack_box_target_on_box_b", "type": "stack",
        "goal": GoalRegion(support_object_id="box_b", center_m=(0.38, -0.32, z + 0.06), size_m=(0.10, 0.06),
                           surface_z_m=z + 0.06)})
    assert plan_at_rest(sim, task) is None
    rec = run_episode(sim, task, 0, seed=2)
    assert rec.success, (rec.failure_reason, rec.metrics["checks"])
    t, b = rec.object_ids.index("box_target"), rec.object_ids.index("box_b")
    top, base = rec.object_poses[-1, 7 * t:7 * t + 3], rec.object_poses[-1, 7 * b:7 * b + 3]
    assert top[2] == pytest.approx(z + 0.06 + 0.05, abs=0.005)  # resting on the base's top
    assert np.all(np.abs(top[:2] - base[:2]) <= [0.05, 0.03])  # over the base
    assert rec.metrics["checks"]["touches_goal_support"] and rec.contact[-1, 2]  # touching the base
    # stable: the still phase (0.5 s) keeps it there
    assert np.abs(rec.object_poses[-15:, 7 * t:7 * t + 3] - top).max() < 0.002
    assert rec.task_state[-1, 9] == pytest.approx(z + 0.06, abs=0.005)  # the goal point is the base's top


def test_goal_spot_is_drawn_on_the_support_and_clear_of_objects():
    from blueprint_pipeline.geniesim.records import GoalRegion
    from blueprint_pipeline.sim.randomize import draw_goal

    goal = GoalRegion(support_object_id="table", center_m=(0.0, 0.0, 0.75), size_m=(0.1, 0.1), surface_z_m=0.75)
    turned = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # the table turned 90 deg
    xs, ys = [], []
    for i in range(30):
        # a 0.5 x 0.12 m top turned 90 deg: 12 cm along world x, so the 10 cm rectangle moves +-1 cm in x
        drawn = draw_goal(goal, (0.0, 0.0, 0.375), turned, (0.5, 0.12, 0.75), [], np.random.default_rng(i), 0.05)
        assert drawn is not None and np.allclose(drawn[0].center_m[:2], drawn[1])
        xs.append(drawn[1][0])
        ys.append(drawn[1][1])
        # on a 1 m top, a blocker standing at x > 0.06 keeps the rectangle's right edge left of it
        drawn = draw_goal(goal, (0.0, 0.0, 0.375), np.eye(3), (1.0, 1.0, 0.75),
                          [(np.array([0.06, -1.0, 0.7]), np.array([1.0, 1.0, 0.9]))], np.random.default_rng(i), 0.05)
        assert drawn is not None and drawn[1][0] + 0.05 <= 0.06 + 1e-9
    assert max(map(abs, xs)) <= 0.01 + 1e-9 and max(map(abs, ys)) > 0.03
    # a top the rectangle's own size: no move fits, the task's spot is kept; no jitter: no draw
    assert draw_goal(goal, (0.0, 0.0, 0.375), np.eye(3), (0.1, 0.1, 0.75), [], np.random.default_rng(0), 0.05) is None
    assert draw_goal(goal, (0.0, 0.0, 0.375), np.eye(3), (1.0, 1.0, 0.75), [], np.random.default_rng(0), 0.0) is None


def test_a_drawn_start_stays_on_a_turned_support():
    from blueprint_pipeline.rotations import yaw_quat
    from blueprint_pipeline.sim.randomize import footprint_on_top
    from blueprint_pipeline.testing.tabletop import _object
    from blueprint_pipeline.scene.records import SimRole

    cart = _object("cart", "cart", SimRole.STATIC, (1.5, 1.0, 0.45), (0.6, 0.45, 0.9))
    cart = cart.model_copy(update={"orientation_wxyz": yaw_quat(np.deg2rad(62.0))})
    rot = quat_to_mat(cart.orientation_wxyz)
    world_half = np.abs(rot[:2, :2]) @ np.array([0.3, 0.225])
    bottle = np.array([0.07, 0.05, 0.19])
    assert footprint_on_top(np.array([1.5, 1.0, 0.995]), np.eye(3), bottle, cart)
    # inside the cart's world box, but off its turned top (as a bottle drawn there fell to the floor)
    corner = np.array([1.5, 1.0]) + world_half - 0.06
    assert not footprint_on_top(np.array([*corner, 0.995]), np.eye(3), bottle, cart)


def test_distractors_are_moved_a_little_per_episode_and_the_task_objects_never():
    """Each episode moves the other free objects standing alone on furniture within the drawn
    range (its own stream: reproducible per episode, different across episodes), keeps every
    footprint 1 cm apart, and never moves the target or its goal support."""
    from blueprint_pipeline.sim.episode import start_data
    from blueprint_pipeline.sim.randomize import _gap, distractor_rng, footprint_aabb, jitter_distractors

    sim, task = _sim(with_clutter=True)
    keep = {task.target_object_id, task.goal.support_object_id}
    opts = EpisodeOptions()

    def draw(index: int):
        d = start_data(sim, task.target_object_id)
        before = {o: d.qpos[sim.free_qpos_adr(o):sim.free_qpos_adr(o) + 7].copy() for o in sim.dynamic_ids}
        moved = jitter_distractors(sim, d, keep, distractor_rng("tabletop", task.task_id, 0, index),
                                   opts.distractor_jitter_m, opts.distractor_yaw_rad)
        after = {o: d.qpos[sim.free_qpos_adr(o):sim.free_qpos_adr(o) + 7].copy() for o in sim.dynamic_ids}
        return moved, before, after

    moved, before, after = draw(0)
    assert set(moved) == {"mug", "box_a", "box_b"}  # the clutter on the table; not the target
    for oid, (dx, dy, yaw) in moved.items():
        assert max(abs(dx), abs(dy)) <= opts.distractor_jitter_m and abs(yaw) <= opts.distractor_yaw_rad
        assert after[oid][:2] == pytest.approx(before[oid][:2] + np.array([dx, dy]))
        assert after[oid][2] == before[oid][2]
    assert np.array_equal(after["box_target"], before["box_target"])
    boxes = {o: footprint_aabb(p[:3], quat_to_mat(p[3:]), sim.physics[o].collider_size_m) for o, p in after.items()}
    assert all(_gap(*boxes[a], *boxes[b]) >= 0.01 - 1e-9 for a in moved for b in boxes if b != a)
    assert draw(0)[0] == moved and draw(1)[0] != moved  # per episode, reproducible
    rec = run_episode(sim, task, 0, seed=0)
    assert rec.metrics["distractors_moved"] == 3


def test_plan_check_sees_a_fast_move_between_its_checked_ticks(single, monkeypatch):
    """Every third tick of the plan and of each phase is checked (in the approach, which starts
    at tick 1: ticks 0, 1, 3, 4, 6, ...), and every tick where the joints move fast: an arm that
    dips into the table at tick 5 only (a finger that passed a shelf's corner between two checked
    ticks held the wrist back, which then broke free) is refused."""
    import dataclasses

    from blueprint_pipeline.sim import scene_check

    ix, _, check, plan = _checked_plan(single)
    task = single[1]
    assert check.plan(plan) is None and scene_check.PLAN_CHECK_EVERY == 3
    start = plan.q[0]
    tcp, rot = ix.ik.tcp_pose(start)
    dip = ix.ik.solve(np.array([tcp[0], tcp[1], task.goal.surface_z_m - 0.05]), rot, start)  # 5 cm into the table
    assert dip.ok()
    assert plan.phase_ticks["approach"][0] == 1 and plan.phase_ticks["approach"][1] > 6
    q = plan.q.copy()
    q[5] = dip.q_rad
    dipped = dataclasses.replace(plan, q=q, checked_through=-1)  # changed: its approach was checked as planned
    assert plan.checked_through >= 5 and check.plan(dataclasses.replace(plan, q=q)) is None
    assert check.plan(dipped) is not None
    monkeypatch.setattr(scene_check, "PLAN_SWEEP_M", np.inf)  # every third tick only: not seen
    assert check.plan(dipped) is None


def test_a_start_without_a_plan_is_drawn_again_and_the_episode_says_so(monkeypatch):
    """engine.START_DRAWS: when the drawn start has no plan (here: the planner refuses the first
    draw's target pose), the start is drawn again from a stream keyed by the draw, and the
    episode runs from the first draw that plans (`start_draw` in its metrics); reproducible. When
    no draw plans, the episode is the first draw's, as before, and fails with the planner's reason."""
    from blueprint_pipeline.sim import engine
    from blueprint_pipeline.sim.families import family_of

    sim, task = _sim(with_clutter=False)
    family = type(family_of(task))
    plan = family.plan
    first = run_episode(sim, task, 2, seed=4)
    refused = {tuple(np.round(first.metrics["start_offset_m"], 9))}
    assert first.metrics["start_draw"] == 0 and first.success

    def refuse_drawn(self, sim_, task_, start, beat=lambda: None):
        planned = plan(self, sim_, task_, start, beat)
        if tuple(np.round(start.rand.target_offset_m, 9)) in refused:
            return engine.Planned(None, "no_clear_grasp", "refused by the test", planned.extra)
        return planned

    monkeypatch.setattr(family, "plan", refuse_drawn)
    redrawn = run_episode(sim, task, 2, seed=4)
    again = run_episode(sim, task, 2, seed=4)
    assert redrawn.success and redrawn.metrics["start_draw"] == 1
    assert redrawn.metrics["start_offset_m"] != first.metrics["start_offset_m"]
    np.testing.assert_array_equal(again.state, redrawn.state)
    refused.update(tuple(np.round(r.metrics["start_offset_m"], 9)) for r in (redrawn,))
    for draw in range(2, engine.START_DRAWS):  # refuse every draw
        st = family_of(task).begin(sim, task, 4, 2, EpisodeOptions(start_draw=draw), lambda: None)
        refused.add(tuple(np.round(st.rand.target_offset_m, 9)))
    failed = run_episode(sim, task, 2, seed=4)
    assert not failed.success and failed.failure_reason == "no_clear_grasp"
    assert failed.metrics["start_draw"] == 0 and failed.metrics["start_offset_m"] == first.metrics["start_offset_m"]


def test_the_scene_checks_contact_rule_is_a_table_of_geom_and_depth_classes():
    """SceneCheck._hit looks its rule up per contact (scene_check._rule_table); the table holds
    the rule its docstring states, the same whichever geom of a contact comes first."""
    from itertools import product

    from blueprint_pipeline.sim import scene_check as sc

    robot, link, floor_link = sc._ROBOT, sc._ROBOT | sc._MOVING, sc._ROBOT | sc._MOVING | sc._ON_FLOOR
    scene, arm = 0, link | sc._ARM  # a plain scene geom; a link of the arm but the hand
    shallow, at_tol = sc._PENETRATING, sc._PENETRATING | sc._DEEPER_THAN_TOL
    deep = sc._PENETRATING | sc._DEEPER_THAN_TOL | sc._PAST_TOL
    for part, carried, placed in product((False, True), repeat=3):
        t = sc._rule_table(part, carried, placed)
        assert np.array_equal(t, t.transpose(1, 0, 2))
        assert t[link, scene, 0] and t[arm, sc._SUPPORT, at_tol]  # a link at any scene geom; a support too deep
        assert not t[robot, scene, deep]  # the base link stands where it stands
        assert not t[floor_link, sc._FLOOR, deep] and t[link, sc._FLOOR, 0]  # only a floor-mounted shoulder
        assert not t[link, sc._SUPPORT, shallow]  # within the tolerance of a support
        assert not t[scene, sc._SUPPORT, deep]  # neither the robot's nor the target's: never
        assert t[arm, sc._TARGET, shallow] == (part or carried or placed)
        assert not t[link, sc._TARGET, 0]  # touching the target without penetrating it
        assert t[sc._TARGET, scene, deep] == carried and not t[sc._TARGET, scene, at_tol]
        assert not t[sc._TARGET, sc._SUPPORT, deep]


def test_an_index_run_is_used_as_the_slice_it_equals():
    from blueprint_pipeline.sim.ik import as_slice as _as_slice

    assert _as_slice(np.array([3, 4, 5])) == slice(3, 6)
    gapped = np.array([0, 2, 3])
    assert _as_slice(gapped) is gapped
    backwards = np.array([5, 4])
    assert _as_slice(backwards) is backwards
    empty = np.array([], dtype=int)
    assert _as_slice(empty) is empty
    data = np.arange(10.0)
    assert np.array_equal(data[_as_slice(np.array([3, 4, 5]))], data[[3, 4, 5]])
