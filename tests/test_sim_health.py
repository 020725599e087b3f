"""Physics health: unstable episodes are failures and never dataset material."""

from __future__ import annotations

import numpy as np
import pytest

from blueprint_pipeline.robots import FRANKA
from blueprint_pipeline.sim import health
from blueprint_pipeline.sim.families import run_episode
from blueprint_pipeline.sim.scene_builder import FPS, build_sim_scene
from blueprint_pipeline.testing.tabletop import tabletop_scene


@pytest.fixture(scope="module")
def recorded():
    scene, physics, config = tabletop_scene(with_clutter=True)
    task = config.tasks[0]
    pl = task.robot_placements["franka"]
    sim = build_sim_scene(scene, physics, FRANKA, pl.base_position_m, pl.base_orientation_wxyz)
    return run_episode(sim, task, 0, seed=3)


def test_a_real_episode_is_healthy(recorded):
    assert recorded.success, recorded.failure_reason
    assert health.unstable_reason(FPS, recorded.state, recorded.object_poses, {}) is None
    assert "unstable" not in recorded.metrics


def test_a_joint_reset_mid_episode_is_unstable(recorded):
    state = recorded.state.copy()
    state[len(state) // 2:, :-1] = 0.0  # MuJoCo's reset: every arm joint snaps to zero
    why = health.unstable_reason(FPS, state, recorded.object_poses, {})
    assert why is not None and "jumped" in why


def test_a_flung_object_is_unstable(recorded):
    poses = recorded.object_poses.copy().reshape(len(recorded.object_poses), -1, 7)
    flung = poses.copy()
    flung[60:, 1, 0] += 1.0  # a neighbour moves 1 m between two frames: 30 m/s
    assert "30.0 m/s" in health.unstable_reason(FPS, recorded.state, flung.reshape(len(poses), -1), {})
    drifted = poses.copy()
    drifted[40:, 1, 0] += np.linspace(0.0, 30.0, len(poses) - 40)  # 6 m/s, but 30 m away at the end
    assert "travelled 30.0 m" in health.unstable_reason(FPS, recorded.state, drifted.reshape(len(poses), -1), {})
    poses = recorded.object_poses.copy()
    poses[10, 0] = np.nan
    assert "non-finite" in health.unstable_reason(FPS, recorded.state, poses, {})


def test_an_object_spinning_in_place_is_unstable(recorded):
    """A free object turning faster than MAX_OBJECT_SPIN_RAD_S between frames, where it stands (as
    a released 7.6 g knife spun on a table), is unstable; the recorded episode's objects turn slowly."""
    poses = recorded.object_poses.copy().reshape(len(recorded.object_poses), -1, 7)

    def spinning(rad_per_frame: float) -> np.ndarray:
        out = poses.copy()
        angles = rad_per_frame * np.arange(len(poses) - 50)
        out[50:, 1, 3:] = np.column_stack([np.cos(angles / 2), np.sin(angles / 2), 0 * angles, 0 * angles])
        return out.reshape(len(poses), -1)

    slow = 0.5 * health.MAX_OBJECT_SPIN_RAD_S / FPS
    assert health.unstable_reason(FPS, recorded.state, spinning(slow), {}) is None
    why = health.unstable_reason(FPS, recorded.state, spinning(2.0 * health.MAX_OBJECT_SPIN_RAD_S / FPS), {})
    assert why is not None and "turned at 60 rad/s" in why


def test_mujoco_warnings_make_an_episode_unstable(recorded):
    why = health.unstable_reason(FPS, recorded.state, recorded.object_poses, {"bad_qacc": 2})
    assert why == "MuJoCo warnings: bad_qacc x2"


def test_warning_counters_are_read_from_mujoco():
    import mujoco

    m = mujoco.MjModel.from_xml_string(
        "<mujoco><worldbody><body><freejoint/><geom size='0.1'/></body></worldbody></mujoco>")
    d = mujoco.MjData(m)
    before = health.warning_counts(d)
    d.qvel[:] = 1e30  # MuJoCo refuses it, warns and resets
    mujoco.mj_step(m, d)
    assert health.new_warnings(d, before)


@pytest.mark.parametrize(("success", "reason", "frames", "keep_failed", "kept"), [
    (True, None, 300, False, True),
    (False, "grasp_slip", 300, True, True),
    (False, "grasp_slip", 300, False, False),
    (False, health.UNSTABLE, 300, True, False),  # never, even with --keep-failed
    (False, "ik_failure", 1, True, False),  # shorter than 1 s: never
    (True, None, FPS - 1, False, False),
])
def test_what_may_enter_a_dataset(success, reason, frames, keep_failed, kept):
    assert health.keepable(success, reason, frames, FPS, keep_failed) is kept
