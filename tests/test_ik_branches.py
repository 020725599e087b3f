"""Other IK branches: a grasp whose posture from the seed the scene refuses is planned in another
posture (planner.plan_pick_place, ArmIK.branch_seeds); IK results a whole turn from their seed are
brought back; an arm whose home meets the scene beside it starts with its base turned."""

import json

import mujoco
import numpy as np
import pytest

from blueprint_pipeline.geniesim.records import GoalRegion
from blueprint_pipeline.robots import FRANKA, UR10
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.sim.planner import BlockedGrasps, ObjectBox, plan_pick_place


class ElbowCheck:
    """A scene check that refuses every plan whose pre-grasp posture bends the elbow the way the
    arm's home does (elbow joint > 0): as furniture beside the arm would refuse a posture family."""

    def __init__(self):
        self.refused = 0

    def hand_at_grasp(self, cand):
        return None

    def grasp(self, cand):
        return None

    def plan(self, plan):
        if plan.grasp.q_pre[2] > 0:
            self.refused += 1
            return "the elbow meets a cupboard"
        return None


def _pick(ik: ArmIK, check) -> object:
    target = ObjectBox("box", np.array([0.7, 0.2, 0.03]), np.eye(3), np.array([0.05, 0.05, 0.06]))
    goal = GoalRegion(support_object_id="table", center_m=(0.6, -0.3, 0.0), size_m=(0.2, 0.2), surface_z_m=0.0)
    return plan_pick_place(ik, target, [], goal, np.array(UR10.home_rad), 1.0 / 30, check=check)


def test_a_grasp_whose_posture_the_scene_refuses_is_planned_in_another_posture(monkeypatch):
    ik = ArmIK(UR10, (0, 0, 0), (1, 0, 0, 0))
    check = ElbowCheck()
    plan = _pick(ik, check)
    assert check.refused > 0  # the posture solved from home was refused first ...
    assert plan.grasp.q_pre[2] < 0  # ... and the plan bends the elbow the other way
    a, b = plan.phase_ticks["approach"]
    np.testing.assert_allclose(plan.q[b], plan.grasp.q_pre)
    pos, _ = ik.tcp_pose(plan.q[b])
    np.testing.assert_allclose(pos, plan.grasp.pre_grasp.pos_m, atol=2e-3)
    monkeypatch.setattr(ArmIK, "branch_seeds", lambda self, q: [])
    with pytest.raises(BlockedGrasps):  # without the other branches there is no plan
        _pick(ik, ElbowCheck())


def test_the_branch_seeds_lead_to_the_ur10s_other_postures_at_the_same_hand_pose():
    """A hand-down pose in front of the UR10: solved from home, then from each of the 7 seeds
    around that posture (shoulder, elbow and wrist flipped), every solve reaches the pose, and
    they give 8 postures no two of which are within 0.3 rad of each other. The Panda has none."""
    ik = ArmIK(UR10, (0, 0, 0), (1, 0, 0, 0))
    pos = np.array([0.6, 0.25, 0.1])
    rot = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
    first = ik.solve(pos, rot, np.array(UR10.home_rad))
    assert first.ok()
    seeds = ik.branch_seeds(first.q_rad)
    assert len(seeds) == 7 and all(np.all(np.abs(s) <= np.pi + 1e-9) for s in seeds)
    postures = [first.q_rad]
    for s in seeds:
        res = ik.solve(pos, rot, s)
        assert res.ok()
        np.testing.assert_allclose(ik.tcp_pose(res.q_rad)[0], pos, atol=1e-3)
        postures.append(res.q_rad)
    wrapped = [(p + np.pi) % (2 * np.pi) - np.pi for p in postures]
    for i, a in enumerate(wrapped):
        for b in wrapped[i + 1:]:
            assert np.max(np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)) > 0.3
    assert ArmIK(FRANKA, (0, 0, 0), (1, 0, 0, 0)).branch_seeds(np.array(FRANKA.home_rad)) == []


def test_a_joint_a_whole_turn_from_its_seed_is_brought_back():
    """The UR10's joints turn +-2 pi: a solution a turn away from the seed is the same pose, and a
    joint-space move from the seed would sweep the arm a full turn to it."""
    ik = ArmIK(UR10, (0, 0, 0), (1, 0, 0, 0))
    seed = np.array(UR10.home_rad)
    q = seed + np.array([0.3, 0.1, -0.2, 0.0, 0.2, 0.1])
    turned = q + np.array([2 * np.pi, 0, 0, -2 * np.pi, 0, 0])
    np.testing.assert_allclose(ik.nearest_turn(turned, seed), q)
    np.testing.assert_allclose(ik.tcp_pose(turned)[0], ik.tcp_pose(q)[0], atol=1e-9)
    np.testing.assert_allclose(ik.nearest_turn(q, seed), q)
    beyond = np.array(UR10.upper_rad) - 0.1  # a turn down would pass the lower limit of the elbow
    assert ik.nearest_turn(beyond, beyond - 2 * np.pi)[2] == beyond[2]


def test_an_arm_whose_home_meets_the_shelf_beside_it_starts_with_its_base_turned(examples, tmp_path):
    """The office example puts the UR10 by the bookshelf for the water bottle; at home its upper
    arm (220.9 mm off the DH line, where a real UR10's tube is) is inside the bookshelf, and drawing
    the hand back does not move it. The start turns the base (sim/start_pose.TURNS_RAD), the arm
    clears the scene, and the task plans."""
    from blueprint_pipeline.sim import start_pose
    from blueprint_pipeline.sim.families import plan_at_rest
    from blueprint_pipeline.sim.scenes import sim_for
    from blueprint_pipeline.testing.runs import run_to_episodes

    manifest = json.loads((examples / "office.json").read_text())
    out = run_to_episodes("office", manifest, tmp_path, "ur10")
    task_id = "pick_place_water_bottle_to_filing_cabinet"
    sim, task = sim_for(str(out), "ur10", task_id, choose_camera=False)
    m, d = sim.model, mujoco.MjData(sim.model)
    arm = [m.joint(j).qposadr[0] for j in sim.names.joints]
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    start = d.qpos[arm].copy()
    assert start[0] != pytest.approx(UR10.home_rad[0]) and np.allclose(start[1:], UR10.home_rad[1:])
    assert not start_pose._arm_meets_scene(m, d, sim.names)
    d.qpos[arm] = UR10.home_rad
    assert start_pose._arm_meets_scene(m, d, sim.names)
    assert plan_at_rest(sim, task) is None
