"""The push family: which objects get a push task and where to, the simulated push judged from the
physics state, and its instructions; the engine's registry of families."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from blueprint_pipeline.geniesim.push_tasks import PUSH_DISTANCE_M
from blueprint_pipeline.geniesim.records import TaskType
from blueprint_pipeline.geniesim.relations import scene_relations
from blueprint_pipeline.geniesim.tasks import plan_tasks
from blueprint_pipeline.robots import FRANKA
from blueprint_pipeline.scene.records import Scene, SceneHeader, SimRole
from blueprint_pipeline.sim import language
from blueprint_pipeline.sim.families import FAMILIES, family_of, plan_at_rest, run_episode
from blueprint_pipeline.sim.judge import judge_push
from blueprint_pipeline.sim.scene_builder import build_sim_scene
from blueprint_pipeline.simready.records import ColliderShape, PhysicsFile
from blueprint_pipeline.testing.tabletop import _object, _physics


def _table_scene(extra=()):
    """A table, a tray too wide for the gripper, a tall vase and a sheet of card (both too wide)."""
    table = _object("table", "table", SimRole.STATIC, (1.0, 1.0, 0.375), (1.2, 0.8, 0.75))
    tray = _object("tray", "tray", SimRole.MANIPULABLE_OBJECT, (0.85, 1.0, 0.765), (0.30, 0.20, 0.03))
    vase = _object("vase", "vase", SimRole.MANIPULABLE_OBJECT, (1.35, 1.25, 0.85), (0.10, 0.10, 0.20))
    card = _object("card", "card", SimRole.MANIPULABLE_OBJECT, (1.35, 0.75, 0.7525), (0.15, 0.10, 0.005))
    objects = [table, tray, vase, card, *extra]
    phys = {o.id: _physics(o, 30.0 if o.id == "table" else 0.5, 0.5, ColliderShape.BOX, o.id != "table")
            for o in objects}
    return objects, phys


def _plan(objects, phys):
    rels, _ = scene_relations(objects)
    return plan_tasks(objects, phys, rels)


def test_what_the_gripper_cannot_hold_is_pushed_along_a_side_onto_free_table():
    objects, phys = _table_scene()
    plan = _plan(objects, phys)
    pushes = {t.target_object_id: t for t in plan.tasks if t.type == "push"}
    assert set(pushes) == {"tray"}
    goal = pushes["tray"].goal
    move = np.array(goal.center_m[:2]) - np.array([0.85, 1.0])
    # along one of its own sides, by the push distance, onto the table
    assert np.linalg.norm(move) == pytest.approx(PUSH_DISTANCE_M)
    assert min(abs(move[0]), abs(move[1])) == pytest.approx(0.0, abs=1e-9)
    assert goal.support_object_id == "table" and goal.surface_z_m == pytest.approx(0.75)
    assert "franka" in pushes["tray"].robot_placements
    skipped = {s.object_id: s.reason for s in plan.skipped}
    assert "too wide for the gripper" in skipped["vase"] and "too tall to push" in skipped["vase"]
    assert "too thin to push" in skipped["card"]


def test_a_push_path_blocked_on_every_side_gives_no_task_with_the_reason():
    walls = [_object(f"book_{i}", "book", SimRole.MANIPULABLE_OBJECT, c, s) for i, (c, s) in enumerate([
        ((0.85, 1.15, 0.80), (0.36, 0.04, 0.10)), ((0.85, 0.85, 0.80), (0.36, 0.04, 0.10)),
        ((0.655, 1.0, 0.80), (0.04, 0.26, 0.10)), ((1.045, 1.0, 0.80), (0.04, 0.26, 0.10))])]
    objects, phys = _table_scene(walls)
    plan = _plan(objects, phys)
    assert not [t for t in plan.tasks if t.type == "push" and t.target_object_id == "tray"]
    reason = {s.object_id: s.reason for s in plan.skipped}["tray"]
    assert "not pushed: no free straight path" in reason


def _sim_and_task():
    objects, phys = _table_scene()
    task = next(t for t in _plan(objects, phys).tasks if t.type == "push")
    header = SceneHeader(scene_id="push", manifest_version="test", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objects))
    p = task.robot_placements["franka"]
    sim = build_sim_scene(Scene(header=header, objects=tuple(objects)),
                          PhysicsFile(scene_id="push", estimator="table", objects=phys), FRANKA,
                          p.base_position_m, p.base_orientation_wxyz, mount_top_z_m=task.goal.surface_z_m
                          + FRANKA.mount_above_surface_m)
    return sim, task


def test_a_push_episode_slides_the_tray_to_its_goal_without_lifting_it():
    sim, task = _sim_and_task()
    assert plan_at_rest(sim, task) is None
    rec = run_episode(sim, task, 0, seed=3)
    assert rec.success, (rec.failure_reason, rec.metrics["checks"], rec.metrics.get("plan_error"))
    m = rec.metrics
    assert m["grasp_kind"] == "push" and m["max_rise_m"] < 0.01
    assert m["push_distance_m"] > 0.1 and m["goal_center_error_m"] < 0.04
    # the hand touched the tray, the pads never closed on it: the commanded gripper stays open
    # by a quarter of the face on either side of the centre line
    assert np.ptp(rec.action[:, -1]) == 0.0 and rec.action[0, -1] < 1.0
    ti = rec.object_ids.index("tray")
    start, end = rec.object_poses[0, ti * 7:ti * 7 + 3], rec.object_poses[-1, ti * 7:ti * 7 + 3]
    assert np.linalg.norm(end[:2] - np.array(m["goal_center_m"][:2])) == pytest.approx(m["goal_center_error_m"], abs=1e-4)
    assert end[2] == pytest.approx(start[2], abs=0.005)
    # judged at the finer step, and the steps are counted as such
    assert m["physics_steps"] > 2 * 16 * (rec.length - 1)
    assert rec.success_flags[-1] and not rec.success_flags[0]


def test_push_instructions_come_from_the_push_templates():
    sim, task = _sim_and_task()
    assert language.family(sim, task) == "push"
    texts = {language.instruction(sim, task, i, 0) for i in range(30)}
    assert len(texts) >= 5 and all("tray" in t for t in texts)
    assert len(language.TEMPLATES["push"]) >= 5


def test_judge_push_reasons():
    ok = dict(start_pos=np.zeros(3), final_pos=np.array([0.15, 0.0, 0.0]), start_zaxis=np.array([0.0, 0.0, 1.0]),
              final_zaxis=np.array([0.0, 0.0, 1.0]), final_lin_vel=np.zeros(3), final_ang_vel=np.zeros(3),
              max_rise_m=0.0, touched_by_hand=True, touches_goal_support=True, goal_center=np.array([0.15, 0.0]),
              goal_size=np.array([0.08, 0.08]), max_other_displacement_m=0.0)
    assert judge_push(**ok).success
    assert judge_push(**ok | {"touched_by_hand": False}).reason == "not_pushed"
    assert judge_push(**ok | {"max_other_displacement_m": 0.05}).reason == "collision"
    assert judge_push(**ok | {"max_rise_m": 0.05}).reason == "placement_miss"
    assert judge_push(**ok | {"final_pos": np.array([0.25, 0.0, 0.0])}).reason == "placement_miss"


def test_every_task_type_the_contract_accepts_has_a_family():
    assert set(get_args(TaskType)) == set(FAMILIES)
    sim, task = _sim_and_task()
    with pytest.raises(ValueError, match="no task family runs"):
        family_of(task.model_copy(update={"type": "pour"}))


def test_the_scripted_push_through_the_env_reproduces_the_episodes_stage(tmp_path):
    from blueprint_pipeline.evaluate.env import HELD_OUT_FIRST_INDEX, make_env
    from blueprint_pipeline.evaluate.policies import ScriptedPolicy
    from blueprint_pipeline.evaluate.push_env import PushEnv
    from blueprint_pipeline.geniesim.records import TaskConfig
    from blueprint_pipeline.geniesim.robots import robot_config
    from blueprint_pipeline.sim.scenes import sim_for
    from blueprint_pipeline.testing.tabletop import write_inputs
    from test_evaluate import _rollout

    objects, phys = _table_scene()
    task = next(t for t in _plan(objects, phys).tasks if t.type == "push")
    header = SceneHeader(scene_id="push", manifest_version="test", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objects))
    write_inputs(str(tmp_path), Scene(header=header, objects=tuple(objects)),
                 PhysicsFile(scene_id="push", estimator="table", objects=phys),
                 TaskConfig(scene_id="push", robots={"franka": robot_config(FRANKA)}, tasks=(task,)))
    env = make_env(str(tmp_path), task.task_id, seed=4)
    assert isinstance(env, PushEnv)
    sim, task = sim_for(str(tmp_path), "franka", task.task_id)
    record = run_episode(sim, task, HELD_OUT_FIRST_INDEX, seed=4)
    states, info = _rollout(env, ScriptedPolicy(), 0)
    # the same start, the same servo execution at the family's finer step: the same trajectory (the
    # env ends once success has held 0.5 s, after the push and before the hand has risen)
    frames = min(len(states), len(record.state))
    assert frames > record.metrics["grasp_frame"] + 10
    np.testing.assert_array_equal(np.array(states[:frames]), record.state[:frames])
    assert info["is_success"] and record.success, (info, record.failure_reason)


# --- pushing further back into open furniture ------------------------------------------------

def _shelf_plan(extra=()):
    """The generalisation tests' shelving unit (open front -y, back panel's inner face at y =
    1.98), its things 14 cm behind its front, and `extra`."""
    from test_generalisation import _shelf_scene

    scene, physics = _shelf_scene()
    objects = [o.model_copy(update={"position_m": (o.position_m[0], 1.74, o.position_m[2])})
               if o.id in ("can_a", "can_b", "jar") else o for o in scene.objects] + list(extra)
    phys = dict(physics.objects) | {o.id: _physics(o, 0.3, 0.5, ColliderShape.CYLINDER, True) for o in extra}
    return scene.model_copy(update={"objects": tuple(objects)}), phys, _plan(objects, phys)


def test_things_in_open_furniture_get_a_push_further_back_on_their_shelf():
    from blueprint_pipeline.geniesim.push_tasks import SHELF_PUSH_MAX_M, SHELF_PUSH_TOLERANCE_M

    _, _, plan = _shelf_plan()
    pushes = {t.target_object_id: t for t in plan.tasks if t.task_id.startswith("push_in_")}
    assert set(pushes) == {"can_a", "can_b", "jar"}
    goal = pushes["can_a"].goal
    # straight towards the unit's back (+y: its open front faces -y), the longest push there is room for
    assert goal.center_m[0] == pytest.approx(1.0) and goal.center_m[1] == pytest.approx(1.74 + SHELF_PUSH_MAX_M)
    assert goal.support_object_id == "unit" and goal.surface_z_m == pytest.approx(0.9)
    assert goal.size_m == pytest.approx((2 * SHELF_PUSH_TOLERANCE_M, 2 * SHELF_PUSH_TOLERANCE_M))
    assert pushes["can_a"].type == "push" and "franka" in pushes["can_a"].robot_placements


def test_a_shelf_push_needs_room_behind_and_a_clear_path():
    from blueprint_pipeline.geniesim.push_tasks import shelf_push_goal

    scene, _, _ = _shelf_plan()
    by_id = scene.by_id()
    unit, can = by_id["unit"], by_id["can_a"]
    front = np.array([0.0, -1.0, 0.0])  # the unit's open front faces -y; its back panel's inner face is
    back_inner = -(0.2 - 0.02)  # 18 cm behind its centre along that normal
    goal, u = shelf_push_goal(can, unit, front, back_inner, 0.9, [])
    assert u == pytest.approx([0.0, 1.0, 0.0])
    near_back = can.model_copy(update={"position_m": (1.0, 1.935, 0.955)})  # its far face 1 cm from the back
    assert shelf_push_goal(near_back, unit, front, back_inner, 0.9, []).startswith("no room behind it: 1.0 cm")
    behind = can.model_copy(update={"id": "can_c", "position_m": (1.0, 1.83, 0.955)})  # 2 cm behind its far face
    assert shelf_push_goal(can, unit, front, back_inner, 0.9, [behind]).startswith("something stands behind it")
    beside = behind.model_copy(update={"position_m": (1.1, 1.74, 0.955)})  # in its row, beside it
    assert shelf_push_goal(can, unit, front, back_inner, 0.9, [beside])[0].center_m[1] == pytest.approx(goal.center_m[1])


def test_a_shelf_push_episode_pushes_the_can_further_back_with_the_fingertips():
    scene, phys, plan = _shelf_plan()
    task = next(t for t in plan.tasks if t.task_id == "push_in_can_a")
    p = task.robot_placements["franka"]
    mount = p.mount_z_m if p.mount_z_m is not None else task.goal.surface_z_m + FRANKA.mount_above_surface_m
    sim = build_sim_scene(scene, PhysicsFile(scene_id="shelf", estimator="table", objects=phys), FRANKA,
                          p.base_position_m, p.base_orientation_wxyz, mount_top_z_m=mount)
    assert sim.shelf_level("can_a") is not None and plan_at_rest(sim, task) is None
    rec = run_episode(sim, task, 0, seed=1)
    assert rec.success, (rec.failure_reason, rec.metrics["checks"], rec.metrics.get("plan_error"))
    m = rec.metrics
    assert m["grasp_kind"] == "push" and m["max_rise_m"] < 0.01 and m["goal_center_error_m"] < 0.015
    assert m["push_direction"] == pytest.approx([0.0, 1.0], abs=1e-6)
    # at the nominal time step: the fingertips bear squarely on its face
    assert m["physics_substeps"] == 1 and not m["resimulated"]
    ti = rec.object_ids.index("can_a")
    start, end = rec.object_poses[0, ti * 7:ti * 7 + 3], rec.object_poses[-1, ti * 7:ti * 7 + 3]
    assert end[1] - start[1] > 0.04 and abs(end[0] - start[0]) < 0.01
    text = language.instruction(sim, task, 0, seed=1, slot=0)
    assert "can a" in text and "further back" in text and "{" not in text  # the robot pushes away from itself


def test_a_short_push_asks_the_object_to_move_half_its_length():
    common = dict(start_zaxis=np.array([0.0, 0.0, 1.0]), final_zaxis=np.array([0.0, 0.0, 1.0]),
                  final_lin_vel=np.zeros(3), final_ang_vel=np.zeros(3), max_rise_m=0.0, touched_by_hand=True,
                  touches_goal_support=True, goal_center=np.array([0.0, 0.025]), goal_size=np.array([0.025, 0.025]),
                  max_other_displacement_m=0.0)
    moved = dict(start_pos=np.zeros(3), final_pos=np.array([0.0, 0.024, 0.0]))
    assert judge_push(**moved, **common, left_start_m=0.0125).success
    assert judge_push(**moved, **common).reason == "placement_miss"  # 3 cm asked by default
