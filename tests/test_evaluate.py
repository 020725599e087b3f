"""The evaluation environment and `blueprint eval`: the scripted planner acting through the
environment reproduces the episodes stage's episode tick for tick; a policy that does nothing
fails; held-out starts; the CLI's summary and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blueprint_pipeline.contract import MAX_EPISODES, RunOptions
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.evaluate.env import HELD_OUT_FIRST_INDEX, TaskEnv, make_env
from blueprint_pipeline.evaluate.open_close_env import NOT_GRASPED, OpenCloseEnv
from blueprint_pipeline.evaluate.pick_place_env import NOT_LIFTED, PickPlaceEnv
from blueprint_pipeline.evaluate.policies import ScriptedPolicy
from blueprint_pipeline.sim.families import run_episode
from blueprint_pipeline.sim.scenes import sim_for
from blueprint_pipeline.testing.tabletop import drawer_scene, tabletop_scene, write_inputs

CLI = [sys.executable, "-c", "from blueprint_pipeline.cli import main; main()"]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("eval_out")
    write_inputs(str(path), *tabletop_scene(with_clutter=True))
    return str(path)


@pytest.fixture(scope="module")
def task_id() -> str:
    return tabletop_scene(with_clutter=True)[2].tasks[0].task_id


def _rollout(env: TaskEnv, policy, n: int) -> tuple[list[np.ndarray], dict]:
    obs, info = env.reset(seed=n)
    policy.reset(env)
    states = [obs["agent_pos"]]
    while True:
        obs, _r, terminated, truncated, info = env.step(policy.act(obs))
        states.append(obs["agent_pos"])
        if terminated or truncated:
            return states, info


def test_the_scripted_planner_through_the_env_reproduces_the_episodes_stage(out, task_id):
    sim, task = sim_for(out, "franka", task_id)
    env = PickPlaceEnv(out, task_id, seed=5)
    for n in range(2):
        record = run_episode(sim, task, HELD_OUT_FIRST_INDEX + n, seed=5)
        states, info = _rollout(env, ScriptedPolicy(), n)
        assert env.episode_index == HELD_OUT_FIRST_INDEX + n
        # the same start and the same servo execution: the same joint trajectory (the env may end
        # before the plan's last still phase: 0.5 s of success with the gripper open suffices)
        frames = min(len(states), len(record.state))
        assert frames > 0.8 * len(record.state)
        np.testing.assert_array_equal(np.array(states[:frames]), record.state[:frames])
        assert info["is_success"] == record.success, (info, record.failure_reason)
    assert record.success  # the table-top task is one the planner solves


@pytest.mark.parametrize("fraction", [0.8, 0.0])  # opening, then closing (the part starts open)
def test_drawers_through_the_env_reproduce_the_episodes_stage(tmp_path, fraction):
    scene = drawer_scene(fraction=fraction)
    if fraction == 0.0:  # a closing task: starts where an opening to 0.8 ends
        task = scene[2].tasks[0].model_copy(update={"task_id": "close_drawer", "joint_target_fraction": 0.0,
                                                    "joint_start_fraction": 0.8})
        scene = (scene[0], scene[1], scene[2].model_copy(update={"tasks": (task,)}))
    write_inputs(str(tmp_path), *scene)
    task_id = scene[2].tasks[0].task_id
    env = make_env(str(tmp_path), task_id, seed=2)
    assert isinstance(env, OpenCloseEnv)
    sim, task = sim_for(str(tmp_path), "franka", task_id)
    record = run_episode(sim, task, HELD_OUT_FIRST_INDEX, seed=2)
    states, info = _rollout(env, ScriptedPolicy(), 0)
    # the env ends 0.5 s into success with the gripper open, which may be before the plan's retreat ends
    frames = min(len(states), len(record.state))
    assert frames > 0.5 * len(record.state)
    np.testing.assert_array_equal(np.array(states[:frames]), record.state[:frames])
    assert record.success and info["is_success"], (record.failure_reason, info)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs["environment_state"], record.task_state[0], atol=1e-6)
    for _ in range(20):  # holding still: the handle is never grasped
        obs, _r, terminated, truncated, info = env.step(np.append(obs["agent_pos"][:-1], 0.0))
    env.max_steps = 20
    assert not info["is_success"]
    obs, _r, terminated, truncated, info = env.step(np.append(obs["agent_pos"][:-1], 0.0))
    assert truncated and info["failure_reason"] == NOT_GRASPED


def test_a_policy_that_does_nothing_fails_and_is_cut_at_max_steps(out, task_id):
    env = PickPlaceEnv(out, task_id, max_steps=25)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    hold = np.append(obs["agent_pos"][:-1], 0.0)
    for _ in range(25):
        obs, reward, terminated, truncated, info = env.step(hold)
        if terminated or truncated:
            break
    assert truncated and not terminated and not info["is_success"] and reward == 0.0
    assert info["failure_reason"] == NOT_LIFTED and info["ticks"] == 25
    with pytest.raises(RuntimeError, match="reset"):
        PickPlaceEnv(out, task_id).step(hold)


def test_held_out_starts_are_reproducible_and_differ_from_each_other(out, task_id):
    env = PickPlaceEnv(out, task_id)
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    c, _ = env.reset(seed=4)
    np.testing.assert_array_equal(a["environment_state"], b["environment_state"])
    assert not np.allclose(a["environment_state"][:3], c["environment_state"][:3])
    assert HELD_OUT_FIRST_INDEX > MAX_EPISODES
    with pytest.raises(InvalidInputError, match="episodes"):
        RunOptions.create(episodes=MAX_EPISODES + 1)


def test_rendered_observations_are_the_dataset_cameras(out, task_id):
    env = PickPlaceEnv(out, task_id, render=True, image_size=128, max_steps=3)
    obs, _ = env.reset(seed=0)
    assert set(obs["pixels"]) == {"scene_cam", "wrist_cam"}
    assert obs["pixels"]["scene_cam"].shape == (128, 128, 3) and obs["pixels"]["scene_cam"].dtype == np.uint8
    assert obs["pixels"]["scene_cam"].std() > 5 and env.observation_space.contains(obs)
    np.testing.assert_array_equal(env.render(), obs["pixels"]["scene_cam"])
    env.close()


def test_blueprint_eval_writes_the_summary_and_refuses_unknown_tasks(out, task_id, tmp_path):
    run = subprocess.run([*CLI, "eval", out, "--episodes", "3", "--render", "--eval-dir", str(tmp_path / "ev")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["policy"] == "scripted" and summary["episodes"] == 3
    assert summary["success_rate"] >= 0.95, summary  # the harness with the planner as the policy
    assert summary["tasks"][task_id]["episodes"] == 3
    assert [r["episode_index"] for r in summary["per_episode"]] == [HELD_OUT_FIRST_INDEX + n for n in range(3)]
    video = tmp_path / "ev" / summary["per_episode"][0]["video"]
    assert video.stat().st_size > 1000
    bad = subprocess.run([*CLI, "eval", out, "--task", "no_such_task"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "--task: no_such_task" in bad.stderr and "Traceback" not in bad.stderr
    none = subprocess.run([*CLI, "eval", str(Path(out) / "missing")], capture_output=True, text=True, check=False)
    assert none.returncode == 2 and "task config not found" in none.stderr and "Traceback" not in none.stderr
