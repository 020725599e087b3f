"""MuJoCo's warnings reach the log, never a MUJOCO_LOG.TXT in the working directory: in this
process and in the worker processes that simulate episodes."""

from __future__ import annotations

import logging
import os

import mujoco

from blueprint_pipeline.resilience.pool import ProcessPool

LOG_FILE = "MUJOCO_LOG.TXT"
UNSTABLE = "Nan, Inf or huge value in QVEL"


def blow_up(model: mujoco.MjModel) -> None:
    """A step with absurd velocities: MuJoCo warns that the simulation is unstable."""
    data = mujoco.MjData(model)
    data.qvel[:] = 1e20
    mujoco.mj_step(model, data)


def test_a_warning_in_this_process_is_logged_and_no_file_is_written(tmp_path, monkeypatch, caplog):
    from blueprint_pipeline.robots import FRANKA, robot_spec

    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.WARNING)
    spec, _ = robot_spec(FRANKA)
    blow_up(spec.compile())
    assert not (tmp_path / LOG_FILE).exists()
    records = [r for r in caplog.records if r.name == "blueprint_pipeline.sim.mujoco"]
    assert len(records) == 1 and UNSTABLE in records[0].getMessage()
    assert records[0].levelno == logging.WARNING


def simulate_in(folder: str, heartbeat) -> list[str]:
    """Pool task: the episode's scene, built and stepped inside `folder`; what is in it after."""
    from blueprint_pipeline.robots import FRANKA
    from blueprint_pipeline.sim.scene_builder import build_sim_scene
    from blueprint_pipeline.testing.tabletop import tabletop_scene

    os.chdir(folder)
    scene, physics, config = tabletop_scene(with_clutter=False)
    placement = config.tasks[0].robot_placements["franka"]
    sim = build_sim_scene(scene, physics, FRANKA, placement.base_position_m, placement.base_orientation_wxyz)
    heartbeat()
    blow_up(sim.model)
    return sorted(os.listdir(folder))


def test_a_warning_in_an_episode_worker_reaches_the_parents_log_and_no_file(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with ProcessPool(1, deadline_s=None) as pool:
        [result] = pool.map(simulate_in, [str(tmp_path)])
    assert result.ok, result.traceback
    assert result.value == [] and not (tmp_path / LOG_FILE).exists()
    records = [r for r in caplog.records if r.name == "blueprint_pipeline.sim.mujoco"]
    assert len(records) == 1 and UNSTABLE in records[0].getMessage()
    assert records[0].processName == "blueprint-worker"  # logged in the worker, emitted here
