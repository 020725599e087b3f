"""The episodes stage: worker pool isolation (hang, crash), journal resume, summary and certificate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import mujoco
import numpy as np
import pytest

from blueprint_pipeline.pipeline import STAGE_NAMES
from blueprint_pipeline.sim import scenes
from blueprint_pipeline.sim import stage as episodes_stage
from blueprint_pipeline.sim.episode_io import load_episode
from blueprint_pipeline.testing.corpus import corpus
from blueprint_pipeline.testing.runs import run_to_geniesim
from blueprint_pipeline.testing.tabletop import tabletop_scene


def hang_or_crash(item, heartbeat):
    """Pool task for the tests: episode 1 hangs in a physics loop without heartbeats, 2 crashes."""
    if item.episode_index == 1:
        sim, _ = scenes.sim_for(item.out_url, item.robot, item.task_id)
        d = mujoco.MjData(sim.model)
        while True:
            mujoco.mj_step(sim.model, d)
    if item.episode_index == 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    return episodes_stage.simulate_item(item, heartbeat)


@pytest.fixture()
def out_dir(tabletop_out):
    return tabletop_out


def test_stage_is_registered_after_geniesim():
    assert STAGE_NAMES.index("episodes") == STAGE_NAMES.index("geniesim") + 1


def test_stage_writes_episodes_summary_and_certificate(out_dir, make_ctx):
    result = episodes_stage.run(make_ctx(out_dir, episodes=3, workers=2, seed=4))
    summary = json.loads((out_dir / "episodes/summary.json").read_text())
    assert summary["episodes"] == 3 and summary["succeeded"] == result.items_ok
    assert summary["success_rate"] == pytest.approx(result.items_ok / 3)
    assert summary["per_task"]["pick_place_box_target"]["episodes"] == 3
    assert summary["quality"]["placement_error_m"]["max"] < 0.02
    cert = json.loads((out_dir / "episodes/quality_certificate.json").read_text())
    assert cert["engine"]["name"] == "MuJoCo" and cert["engine"]["version"] == mujoco.__version__
    assert cert["engine"]["timestep_s"] == pytest.approx(1 / 480) and cert["engine"]["steps_per_frame"] == 16
    assert cert["engine"]["substeps_by_family"] == {"push": 3}  # the push family's finer step is declared
    assert "success_push" in cert["checks"]
    kept = sorted(p.name for p in (out_dir / "episodes/data").iterdir())
    assert len(kept) == result.items_ok == len([o for o in result.outputs if o.startswith("episodes/data/")])
    rec = load_episode(str(out_dir / "episodes/data" / kept[0]))
    assert rec.success and rec.robot == "franka" and rec.seed == 4
    assert "episodes/scenes/pick_place_box_target.xml" in result.outputs


def test_each_task_scene_is_written_as_mjcf_that_steps_as_the_episodes_did(out_dir, make_ctx):
    import numpy as np

    from blueprint_pipeline.sim.families import run_episode

    episodes_stage.run(make_ctx(out_dir, episodes=1, workers=1, seed=0))
    path = out_dir / "episodes/scenes/pick_place_box_target.xml"
    loaded = mujoco.MjModel.from_xml_path(str(path))
    scenes._SIM_CACHE.clear()  # a freshly built scene (the probe changed the cached one's sleep settings)
    sim, task = scenes.sim_for(str(out_dir), "franka", "pick_place_box_target")
    assert (loaded.nq, loaded.nbody, loaded.ngeom, loaded.nu) == (sim.model.nq, sim.model.nbody, sim.model.ngeom,
                                                                  sim.model.nu)
    # the file's model and the episodes' model step identically from the home keyframe
    runs = []
    for m in (loaded, sim.model):
        d = mujoco.MjData(m)
        mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
        mujoco.mj_step(m, d, 2000)
        runs.append(d.qpos.copy())
    assert np.array_equal(runs[0], runs[1])
    # an episode in a stale folder: a task no longer simulated loses its file
    stale = out_dir / "episodes/scenes/pick_place_gone.xml"
    stale.write_text(path.read_text())
    episodes_stage.run(make_ctx(out_dir, episodes=1, workers=1, seed=0))
    assert not stale.exists() and path.exists()
    assert run_episode(sim, task, 0, 0).success


def test_a_run_without_images_hands_its_workers_the_probed_scenes_and_removes_them(out_dir, make_ctx, monkeypatch):
    seen = []
    real = episodes_stage.simulate_items

    def spy(items, *args, **kwargs):
        assert items and all(it.snapshot is not None and os.path.isfile(it.snapshot) for it in items)
        seen.extend(items)
        return real(items, *args, **kwargs)

    monkeypatch.setattr(episodes_stage, "simulate_items", spy)
    result = episodes_stage.run(make_ctx(out_dir, episodes=2, workers=2, seed=0, render=False))
    assert result.items_ok == 2 and len(seen) == 2
    assert not any(os.path.exists(it.snapshot) for it in seen)  # the stage's temporary folder is gone
    # the snapshot's path is not part of a result's key: a rerun resumes every episode
    episodes_stage.run(make_ctx(out_dir, episodes=2, workers=2, seed=0, render=False))
    assert json.loads((out_dir / "episodes/summary.json").read_text())["resumed_from_journal"] == 2


def test_a_scene_loaded_from_its_snapshot_simulates_the_episodes_a_fresh_compile_does(tmp_path, monkeypatch):
    """The stage hands each task's compiled, probed and settled scene to its workers
    (scenes.write_snapshot). The pantry's resting clutter sleeps in the settled start; MjData's own
    pickling loses how many trees are awake, and the loaded start's first step failed in mj_sleep.
    An episode from the loaded scene equals one from a scene compiled and settled afresh, as a
    worker that cannot read the snapshot makes it."""
    from blueprint_pipeline.sim.families import run_episode

    out = run_to_geniesim("pantry", dict(corpus())["pantry_m_z"], tmp_path).out_url
    config = scenes.load_task_config(str(tmp_path / "pantry/geniesim/task_config.json"))
    task = next(t for t in config.tasks if t.task_id == "pick_place_shelf0_3_to_shelving_unit")
    folder = tmp_path / "snapshots"
    folder.mkdir()
    prepared = episodes_stage.prepare_tasks(out, "franka", [task], cameras=False, snapshot_dir=str(folder))
    assert task.task_id not in prepared.infeasible
    probed = scenes.compiled(out, "franka", task.task_id)[0]._settled_start[task.target_object_id]
    scenes._SNAPSHOTS.clear()
    loaded, spec = scenes.from_snapshot(prepared.snapshots[task.task_id])
    start = loaded._settled_start[task.target_object_id]
    assert np.count_nonzero(start.tree_asleep >= 0) >= 3  # clutter asleep
    assert (start.nbody_awake, start.ntree_awake, start.nv_awake) == (probed.nbody_awake, probed.ntree_awake,
                                                                      probed.nv_awake)
    assert loaded.spec is None and spec == task
    scenes._SIM_CACHE.clear()
    fresh, fresh_spec = scenes.compiled(out, "franka", task.task_id)
    for index in (0, 1):
        a, b = run_episode(loaded, spec, index, seed=3), run_episode(fresh, fresh_spec, index, seed=3)
        assert a.success, a.failure_reason
        np.testing.assert_array_equal(a.state, b.state)
        np.testing.assert_array_equal(a.object_poses, b.object_poses)
    assert scenes.from_snapshot(str(folder / "gone.pickle")) is None  # unreadable: the worker compiles
    # once the budget is written, the workers compile the other tasks' scenes
    two = [task, next(t for t in config.tasks if t.task_id == "pick_place_shelf1_3_to_shelving_unit")]
    monkeypatch.setattr(episodes_stage, "SNAPSHOT_BUDGET_BYTES", 1)  # the first file passes it
    over = episodes_stage.prepare_tasks(out, "franka", two, cameras=False, snapshot_dir=str(folder))
    assert not over.infeasible and list(over.snapshots) == [task.task_id]
    cut = folder / "cut.pickle"
    cut.write_bytes(open(prepared.snapshots[task.task_id], "rb").read()[:1000])
    assert scenes.from_snapshot(str(cut)) is None


def test_inputs_are_parsed_once_and_again_when_their_files_change(out_dir):
    first = scenes.loaded_inputs(str(out_dir))
    assert scenes.loaded_inputs(str(out_dir)) is first  # unchanged files: the same records
    sim, _ = scenes.compiled(str(out_dir), "franka", "pick_place_box_target")
    assert scenes.compiled(str(out_dir), "franka", "pick_place_box_target")[0] is sim
    config = out_dir / "geniesim/task_config.json"
    text = config.read_text()
    tmp = config.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, config)  # written again (as every stage writes, atomically): read and compiled anew
    again = scenes.loaded_inputs(str(out_dir))
    assert again is not first and again[2] == first[2]
    assert scenes.compiled(str(out_dir), "franka", "pick_place_box_target")[0] is not sim


def test_hung_and_crashed_workers_are_killed_and_reported_while_others_are_kept(out_dir, make_ctx):
    items = episodes_stage.plan_items(make_ctx(out_dir, episodes=4, workers=2), {tabletop_scene()[2].tasks[0].task_id: "pick_place"})
    assert {i.image_size for i in items} == {128}
    results = episodes_stage.simulate_items(items, workers=2, deadline_s=60.0, heartbeat_timeout_s=10.0, fn=hang_or_crash)
    by_index = {r["episode_index"]: r for r in results}
    assert by_index[1]["failure_reason"] == "timeout" and "heartbeat" in by_index[1]["message"]
    assert by_index[2]["failure_reason"] == "crashed" and "SIGSEGV" in by_index[2]["message"]
    assert by_index[0]["success"] and by_index[3]["success"]
    data = sorted(p.name for p in (out_dir / "episodes/data").iterdir())
    assert data == ["episode_000000.npz", "episode_000003.npz"]
    # the failures are journalled too: a rerun does not simulate anything again
    again = episodes_stage.simulate_items(items, workers=2, deadline_s=60.0, heartbeat_timeout_s=10.0, fn=_must_not_run)
    assert [r["failure_reason"] for r in again] == [r["failure_reason"] for r in results]


def _must_not_run(item, heartbeat):
    raise AssertionError("journalled episode simulated again")


def test_resume_regenerates_only_missing_episodes_identically(out_dir, make_ctx):
    ctx = make_ctx(out_dir, episodes=3, workers=2, seed=9)
    episodes_stage.run(ctx)
    data = out_dir / "episodes/data"
    before = load_episode(str(data / "episode_000001.npz"))
    (data / "episode_000001.npz").unlink()
    (out_dir / "episodes/results/episode_000001.json").unlink()
    mtimes = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    episodes_stage.run(ctx)
    summary = json.loads((out_dir / "episodes/summary.json").read_text())
    assert summary["resumed_from_journal"] == 2
    after = load_episode(str(data / "episode_000001.npz"))
    np.testing.assert_array_equal(before.state, after.state)
    np.testing.assert_array_equal(before.object_poses, after.object_poses)
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir() if p.name in mtimes} == mtimes


@pytest.mark.slow
def test_kill_minus_9_then_rerun_regenerates_only_the_missing_episodes(out_dir):
    proc = subprocess.Popen([sys.executable, "-c", "from blueprint_pipeline.cli import main; main()",
                             "episodes", str(out_dir), "-n", "12", "--workers", "1"], start_new_session=True)
    results = out_dir / "episodes/results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("*.json")) if results.exists() else []) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in results.glob("*.json")}
    assert 3 <= len(done_before) < 12
    mtimes = {name: (results / name).stat().st_mtime_ns for name in done_before}
    rc = subprocess.run([sys.executable, "-c", "from blueprint_pipeline.cli import main; main()",
                         "episodes", str(out_dir), "-n", "12", "--workers", "2"], capture_output=True, text=True, check=False)
    assert rc.returncode == 0, rc.stderr
    summary = json.loads((out_dir / "episodes/summary.json").read_text())
    assert summary["episodes"] == 12 and summary["resumed_from_journal"] == len(done_before)
    assert {name: (results / name).stat().st_mtime_ns for name in done_before} == mtimes


def test_cli_reports_missing_inputs_and_unknown_robots_with_exit_code_2(tmp_path, out_dir):
    def cli(*args):
        return subprocess.run([sys.executable, "-c", "from blueprint_pipeline.cli import main; main()", *args],
                              capture_output=True, text=True, check=False)

    missing = cli("episodes", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "normalized.jsonl" in missing.stderr and "Traceback" not in missing.stderr
    robot = cli("episodes", str(out_dir), "--robot", "kuka")
    assert robot.returncode == 2 and "kuka" in robot.stderr
    written = {p.name for p in (out_dir / "episodes").iterdir()} if (out_dir / "episodes").exists() else set()
    assert written <= {".failed.json"}  # the runner's failure marker only: nothing half-written


def test_episode_deadline_follows_the_settings_factor(out_dir, monkeypatch, make_ctx):
    from blueprint_pipeline.config import load_settings

    seen = {}

    def fake_simulate_items(items, workers, deadline_s, heartbeat_timeout_s, **kw):
        seen["deadline_s"] = deadline_s
        return []

    monkeypatch.setattr(episodes_stage, "simulate_items", fake_simulate_items)
    ctx = make_ctx(out_dir, settings_=load_settings({"BP_EPISODE_DEADLINE_FACTOR": "3"}), episodes=0)
    episodes_stage.run(ctx)
    assert seen["deadline_s"] == pytest.approx(3.0 * episodes_stage.NOMINAL_EPISODE_S)


def test_an_episode_whose_drawn_start_has_no_plan_starts_from_the_nominal_one(tmp_path):
    """engine.plan_episode: with the UR10 on the corpus pantry, some drawn arm starts leave a shelf
    task no collision-free plan, while the nominal start, which the feasibility probe planned
    from, has one; such an episode moves there first and succeeds. The first such start of the
    task, in the order the engine draws them (engine.begin_and_plan), is looked for."""
    from blueprint_pipeline.sim.engine import START_DRAWS, plan_episode
    from blueprint_pipeline.sim.episode import EpisodeOptions
    from blueprint_pipeline.sim.families import family_of, run_episode
    from blueprint_pipeline.sim.planner import from_start
    from blueprint_pipeline.sim.scene_builder import FPS
    from blueprint_pipeline.testing.corpus import corpus
    from blueprint_pipeline.testing.runs import run_to_geniesim

    out = run_to_geniesim("pantry", dict(corpus())["pantry_m_z"], tmp_path, "ur10").out_url
    task_id = "pick_place_shelf1_3_to_shelving_unit"
    sim, task = scenes.sim_for(out, "ur10", task_id)
    family = family_of(task)

    def returned_start():
        for index in range(40):
            for draw in range(START_DRAWS):
                st = family.begin(sim, task, 0, index, EpisodeOptions(start_draw=draw), lambda: None)
                if family.plan(sim, task, st).plan is not None:
                    break  # the engine takes this draw as it is
                planned = plan_episode(family, sim, task, st)
                if planned.plan is not None:
                    return index, draw, st, planned
        return None

    found = returned_start()
    assert found is not None, "some drawn starts of this task are expected to need the nominal one"
    index, draw, st, planned = found
    plan = planned.plan
    assert planned.extra["start_return"] and np.allclose(plan.q[0], st.q_home)  # starts where the arm is
    nominal = st.q_home - st.arm_offset
    k = plan.phase_ticks["approach"][0] + int(np.argmin(np.linalg.norm(plan.q[1:] - nominal, axis=1)))
    assert np.allclose(plan.q[k], nominal, atol=1e-9) and set(plan.phase[1:k + 1]) == {"approach"}
    # from_start shifts every later phase by the return move's length
    short = from_start(plan, plan.q[0], sim.robot, 1.0 / FPS)
    assert {p: (a - short.phase_ticks[p][0]) for p, (a, _) in plan.phase_ticks.items() if p != "approach"} == {
        p: -(len(short.q) - len(plan.q)) for p in plan.phase_ticks if p != "approach"}
    # the planner's early check of the approach covered the plan it made, not the return move before it
    assert family.plan(sim, task, replace(st, q_home=nominal, arm_offset=0 * st.arm_offset)).plan.checked_through > 0
    assert plan.checked_through == short.checked_through == -1
    rec = run_episode(sim, task, index, 0)
    assert rec.success and rec.metrics["start_return"] and rec.metrics["start_draw"] == draw


def test_a_place_out_of_the_wrists_reach_as_grasped_is_made_half_a_turn_round(kitchen, tmp_path, monkeypatch):
    """planner.plan_pick_place: when no grasp gives a plan with the object placed as grasped (or
    turned back), it is placed turned half a turn more (a box's footprint is the same). The UR10
    on its pedestal missed the kitchen tea box's place 30 cm from its base by 3-14 mm in 7 of 40
    episodes, episode 4 among them, which then succeeded with the box turned by pi. Since grasps
    missed from the start are solved again from an aimed seed (ArmIK.solve_from_start), episode 4
    places it as grasped; here every placing but the half turn is refused, as it was then."""
    import json as _json

    from blueprint_pipeline.sim import planner
    from blueprint_pipeline.sim.families import run_episode
    from blueprint_pipeline.testing.runs import run_to_episodes

    out = run_to_episodes("kitchen", _json.loads(kitchen.read_text()), tmp_path, "ur10")
    sim, task = scenes.sim_for(str(out), "ur10", "pick_place_tea_box_to_dining_table")
    k = sim.dynamic_ids.index("tea_box")

    def yaw(q):
        w, x, y, z = q
        return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    def turned() -> float:
        rec = run_episode(sim, task, 4, 0)
        assert rec.success, (rec.failure_reason, rec.metrics.get("plan_error"))
        poses = rec.object_poses.reshape(rec.length, -1, 7)[:, k, 3:]
        return abs((yaw(poses[-1]) - yaw(poses[0]) + np.pi) % (2 * np.pi) - np.pi)

    assert turned() < 0.05  # as grasped
    plan_with_grasp = planner._plan_with_grasp

    def refuse_all_but_half_turns(*args):
        turn = args[10]  # the placing's rotation about z
        if abs(np.arctan2(turn[1, 0], turn[0, 0])) < np.pi / 2:
            raise planner.IKFailure("refused by the test: placed as grasped or turned back")
        return plan_with_grasp(*args)

    monkeypatch.setattr(planner, "_plan_with_grasp", refuse_all_but_half_turns)
    assert turned() == pytest.approx(np.pi, abs=0.05)  # half a turn


def test_a_scene_that_cannot_be_written_for_the_workers_is_compiled_by_them(out_dir, make_ctx, monkeypatch, caplog):
    """A full temporary disk when the stage writes a task's scene for its workers is not the run's
    failure: the workers compile that scene themselves (scenes.write_snapshot, prepare_tasks)."""
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(episodes_stage, "write_snapshot", full)
    with caplog.at_level("WARNING", logger="blueprint_pipeline.sim.stage"):
        result = episodes_stage.run(make_ctx(out_dir, episodes=2, workers=2, seed=0, render=False))
    assert result.items_ok == 2
    assert "compiled again in the workers" in caplog.text and "No space left" in caplog.text
