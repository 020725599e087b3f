"""Benchmark of episode generation against the bare physics rate, side by side in one run.

    python bench/episodes.py [--scene kitchen|meshed_kitchen|tabletop] [--per-task 10] [--render-episodes 2] [--robot franka]

Inputs: examples/kitchen.json run through the scene, simready, usd and geniesim stages into a
temporary folder (examples/meshed_kitchen/meshed_kitchen.json with --scene meshed_kitchen: its
mugs, bowl, bottle and box collide through convex mesh pieces; the tabletop test scene with
--scene tabletop). Every pick_place task of the
scene runs with the stage's randomisation (target +-8 cm, yaw +-45 deg, mass and friction within
the physics DR ranges) among the scene's other objects.

Rows (CPU time of this process, so the figures are per core even on a shared machine):
- bare mj_step rate of the same model (robot holding home, objects resting, the resting clutter
  asleep as in the episodes, nominal masses and frictions): the physical limit. It is timed in
  slices of 2,000 steps (in calls of 16 steps, as the episodes call mj_step) after every
  episode (after 100 untimed steps that warm the caches again), so that bare steps and
  episodes share the machine's load of the moment (on a shared machine a
  bare rate timed in one block before the episodes gave ratios from 0.56 to 0.66 with the same
  code). The one-block figure (20,000 steps before each task's episodes) is printed too, and the
  ratio against it; also the bare rate with sleeping off, for context;
- the full episode loop (randomise, settle, plan with IK, execute, record): physics steps per
  CPU second, and its ratio to the bare rate. What the stage builds once per task before its
  episodes and ships to its workers with the scene (the arm's IK model, the settled start scene,
  the scene check's layout: `task_setup`) is built before the episodes are timed, as the workers
  receive it; its CPU is printed apart (about 10 ms a task on the meshed kitchen), with the
  loop's ratio when it is counted in the loop (until 2026-12-06 it was: the first episode of
  each task built it);
- successful pick_place episodes per CPU minute without cameras, and with two cameras in each
  configuration of RENDERED (the same episodes in each): 128x128 with the episode's drawn look
  and the robot's meshes (the default; primitives when the robot-meshes extra is absent), the
  same with the robot drawn as its primitives, with the look not drawn, 224x224, and with
  --shadows also with shadows; each against the first;
- the scripted success rate and its failure reasons.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco
import numpy as np

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.robots import robot_by_name
from blueprint_pipeline.robots.visuals import source_of
from blueprint_pipeline.sim import scenes
from blueprint_pipeline.sim import stage as episodes_stage
from blueprint_pipeline.sim.episode import EpisodeOptions, _indices, start_data
from blueprint_pipeline.sim.families import run_episode
from blueprint_pipeline.sim.scene_builder import STEPS_PER_FRAME, prepare_for_target, set_sleep
from blueprint_pipeline.sim.scene_check import SceneCheck
from blueprint_pipeline.testing.tabletop import tabletop_scene, write_inputs

ROOT = Path(__file__).resolve().parent.parent


def prepare(scene: str, out: str) -> None:
    if scene == "tabletop":
        write_inputs(out, *tabletop_scene())
        return
    manifest = ROOT / "examples" / ("meshed_kitchen/meshed_kitchen.json" if scene == "meshed_kitchen" else "kitchen.json")
    ctx = StageContext(manifest_url=str(manifest), out_url=out, options=RunOptions())
    for name in ("scene", "simready", "usd", "geniesim"):
        run_pipeline(ctx, only=name)


class BareSteps:
    """Bare mj_step of a model from rest (robot holding home), timed in slices; CPU seconds."""

    def __init__(self, model: mujoco.MjModel):
        self.model, self.data = model, mujoco.MjData(model)
        mujoco.mj_resetDataKeyframe(model, self.data, model.key("home").id)
        self.data.ctrl[:] = model.key("home").ctrl
        for _ in range(500):
            mujoco.mj_step(model, self.data)
        self.steps, self.cpu_s = 0, 0.0

    def run(self, steps: int, warm: int = 0) -> None:
        """`steps` (a multiple of STEPS_PER_FRAME) timed in calls of STEPS_PER_FRAME steps, as
        the episodes call mj_step (one call a control tick): a Python loop of single steps, as
        before 2026-12-06, read the bare rate 1.8% slow on the meshed kitchen (the calls' own
        cost), which flattered the loop's ratio by as much."""
        assert steps % STEPS_PER_FRAME == 0, steps
        for _ in range(warm):
            mujoco.mj_step(self.model, self.data)
        t0 = time.process_time()
        for _ in range(steps // STEPS_PER_FRAME):
            mujoco.mj_step(self.model, self.data, STEPS_PER_FRAME)
        self.cpu_s += time.process_time() - t0
        self.steps += steps

    @property
    def rate(self) -> float:
        return self.steps / self.cpu_s


def task_setup(sim, task) -> float:
    """What the stage builds once per task before its episodes (its feasibility probe, in the
    stage's own process) and ships to the workers with the scene (scenes.write_snapshot): the
    arm's IK model, the settled start and the scene check's layout. Built here before the
    episodes are timed, as the workers receive them; its CPU seconds are returned (printed apart,
    and the loop's ratio with them counted too)."""
    t0 = time.process_time()
    target = task.target_object_id
    SceneCheck(sim, start_data(sim, target), _indices(sim), target, task.goal.support_object_id if task.goal else None)
    sim.restore_nominal()
    prepare_for_target(sim, target)
    return time.process_time() - t0


def bare_step_rate(model: mujoco.MjModel, steps: int = 20000) -> float:
    """One block of `steps` bare steps after a 500-step warm-up."""
    bare = BareSteps(model)
    bare.run(steps)
    return bare.rate


# rendered configurations, each run on the same episodes (two cameras, scene_cam and wrist_cam):
# the episode options and whether the robot is drawn with its meshes (robots/visuals.py; the
# robot-meshes extra) or as its collision primitives
RENDERED = {
    "2 x 128x128, drawn look, robot meshes (default)": (dict(image_size=128), True),
    "2 x 128x128, drawn look, robot primitives": (dict(image_size=128), False),
    "2 x 128x128, look not drawn, robot meshes": (dict(image_size=128, visual_randomization=False), True),
    "2 x 224x224, drawn look, robot meshes": (dict(image_size=224), True),
}
SHADOWS = {"2 x 128x128, drawn look and shadows, robot meshes": (dict(image_size=128, shadows=True), True)}  # with --shadows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scene", choices=("kitchen", "meshed_kitchen", "tabletop"), default="kitchen")
    ap.add_argument("--per-task", type=int, default=10)
    ap.add_argument("--render-episodes", type=int, default=2, help="per task and rendered configuration")
    ap.add_argument("--robot", default="franka")
    ap.add_argument("--shadows", action="store_true", help="also render with shadows (about 8x slower)")
    args = ap.parse_args()
    if args.shadows:
        RENDERED.update(SHADOWS)
    with tempfile.TemporaryDirectory() as out:
        prepare(args.scene, out)
        config = scenes.load_task_config(str(Path(out) / "geniesim" / "task_config.json"))
        tasks = episodes_stage.runnable_tasks(config, args.robot)
        bare_block, bare_awake, loop_steps, loop_cpu, ok, cpu_plain = [], [], 0, 0.0, 0, 0.0
        bare_steps, bare_cpu, setup_cpu = 0, 0.0, 0.0
        reasons: collections.Counter = collections.Counter()
        per_task = {}
        ok_r, cpu_r = collections.Counter(), collections.Counter()
        index = 0
        for task in tasks:
            scenes._SIM_CACHE.clear()
            # no scene camera, as the stage's runs without images (what it saw is not computed)
            sim, task = scenes.sim_for(out, args.robot, task.task_id, choose_camera=False)
            prepare_for_target(sim, task.target_object_id)  # as in the episodes: target awake, others may sleep
            setup_cpu += task_setup(sim, task)
            bare_block.append(bare_step_rate(sim.model))
            set_sleep(sim.model, False)
            bare_awake.append(bare_step_rate(sim.model))
            set_sleep(sim.model, True)
            between = BareSteps(sim.model)
            n_ok = 0
            for _ in range(args.per_task):
                t0 = time.process_time()
                rec = run_episode(sim, task, index, seed=0)
                dt = time.process_time() - t0
                sim.restore_nominal()  # the episode left its randomised masses and frictions in the model
                between.run(2000, warm=100)
                index += 1
                cpu_plain += dt
                loop_cpu += dt
                loop_steps += rec.metrics["physics_steps"]
                n_ok += rec.success
                reasons[rec.failure_reason or "success"] += 1
            ok += n_ok
            bare_steps, bare_cpu = bare_steps + between.steps, bare_cpu + between.cpu_s
            per_task[task.task_id] = (n_ok, args.per_task)
            for name, (config, meshes) in RENDERED.items():  # the same episodes in every configuration
                drawn, _ = scenes.sim_for(out, args.robot, task.task_id, robot_meshes=meshes)
                prepare_for_target(drawn, task.target_object_id)
                for j in range(args.render_episodes):
                    t0 = time.process_time()
                    rec = run_episode(drawn, task, index + j, seed=0, options=EpisodeOptions(render=True, **config))
                    drawn.restore_nominal()
                    cpu_r[name] += time.process_time() - t0
                    ok_r[name] += rec.success
            index += args.render_episodes
        n = args.per_task * len(tasks)
        n_r = args.render_episodes * len(tasks)
        bare_rate = bare_steps / bare_cpu
        block_rate = float(np.mean(bare_block))
        loop_rate = loop_steps / loop_cpu
        rows = [
            ("bare mj_step (same models), between the episodes, steps/s", bare_rate, "1.00"),
            ("bare mj_step timed in one block before each task", block_rate, f"{block_rate / bare_rate:.2f}"),
            ("bare mj_step with sleeping off (every object simulated)", float(np.mean(bare_awake)),
             f"{np.mean(bare_awake) / bare_rate:.2f}"),
            ("episode loop incl. settle, plan, IK, record, steps/s", loop_rate,
             f"{loop_rate / bare_rate:.2f} of bare ({loop_rate / block_rate:.2f} of the one-block figure)"),
            ("per-task setup before the episodes (IK model, settled start), ms/task", 1000 * setup_cpu / len(tasks),
             f"loop / bare {loop_steps / (loop_cpu + setup_cpu) / bare_rate:.2f} with it counted in the loop"),
            ("successful episodes / min / core, no cameras", 60 * ok / cpu_plain, f"{ok}/{n} ok"),
            *((f"successful episodes / min / core, {name}", 60 * ok_r[name] / cpu_r[name] if cpu_r[name] else float("nan"),
               f"{(60 * ok_r[name] / cpu_r[name]) / (60 * ok / cpu_plain):.3f} of no-camera, "
               f"{cpu_r[first] / cpu_r[name]:.2f} of the first" if cpu_r[name] and ok else "-")
              for first in [next(iter(RENDERED))] for name in RENDERED),
            ("scripted success rate", ok / n, f"{len(tasks)} tasks x {args.per_task}"),
        ]
        print(f"scene {args.scene}, robot {args.robot}, mujoco {mujoco.__version__}, "
              f"dt {episodes_stage.TIMESTEP_S:.6f} s, {n} episodes (+{n_r} rendered)")
        print(f"robot meshes: {source_of(robot_by_name(args.robot))}")
        print(f"{'measure':58s} {'value':>12s}  ratio / note")
        for name, value, note in rows:
            print(f"{name:58s} {value:12.2f}  {note}")
        print("per task:", ", ".join(f"{k} {a}/{b}" for k, (a, b) in per_task.items()))
        print("outcomes:", dict(reasons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
