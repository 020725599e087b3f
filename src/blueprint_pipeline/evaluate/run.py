"""`blueprint eval`: run a policy in the evaluation environment on held-out starts and write
`<eval dir>/summary.json` (success rate, failure reasons, per task and per episode) and, when
rendering, one scene-camera MP4 per episode (`<eval dir>/videos/<task>_<n>.mp4`, H.264).

Tasks: every task of the run's task config that the episodes stage simulates (pick_place,
stack, open_close) with a placement for the robot, less those its feasibility probe found no plan
for (episodes/summary.json's tasks_infeasible, when the stage ran with this robot), or those named. Episode n of a task starts from `env.reset(seed=n)`: held-out index
HELD_OUT_FIRST_INDEX + n of the run seed (evaluate/env.py).
"""

from __future__ import annotations

import collections
import os
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.contract import EPISODES_SUMMARY, EVAL_SUMMARY
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.evaluate.env import HELD_OUT_FIRST_INDEX, TaskEnv, make_env
from blueprint_pipeline.evaluate.policies import Policy



def eval_tasks(out_dir: str, robot: str, only: list[str] | None = None) -> list[str]:
    """The simulated task ids the robot has a placement for (or `only`, checked)."""
    from blueprint_pipeline.sim.scenes import inputs_of, load_task_config

    config = load_task_config(inputs_of(out_dir)[2])
    runnable = [t.task_id for t in config.tasks
                if robot in t.robot_placements and (t.type == "open_close" or t.goal is not None)
                and t.type in ("pick_place", "stack", "push", "open_close")]
    if not only:
        infeasible = _infeasible(out_dir, robot)
        runnable = [t for t in runnable if t not in infeasible]
        if not runnable:
            raise InvalidInputError(f"{out_dir}: no pick_place, stack, push or open_close task with a placement for {robot}")
        return runnable
    unknown = [t for t in only if t not in runnable]
    if unknown:
        raise InvalidInputError(f"--task: {', '.join(unknown)} is not a simulated task for {robot}; "
                                f"known: {', '.join(runnable) or 'none'}")
    return list(only)


def _infeasible(out_dir: str, robot: str) -> set[str]:
    """The tasks the episodes stage's feasibility probe found no plan for with this robot (not
    evaluated by default: no dataset holds them); none when the stage has not run for it."""
    url = EPISODES_SUMMARY.url(out_dir)
    if not storage.exists(url):
        return set()
    summary = storage.read_json(url)
    if summary.get("robot", robot) != robot:
        return set()
    return {t["task_id"] for t in summary.get("tasks_infeasible", [])}


def evaluate(out_dir: str, policy: Policy, *, robot: str = "franka", episodes: int = 10, seed: int = 0,
             tasks: list[str] | None = None, render: bool = False, image_size: int = 128,
             eval_dir: str | None = None, max_steps: int | None = None,
             progress: Callable[[int, int, str], None] = lambda done, total, what: None) -> dict[str, Any]:
    """Run `episodes` held-out episodes of each task with `policy`; write and return the summary."""
    if episodes < 1:
        raise InvalidInputError(f"--episodes: must be at least 1, got {episodes}")
    task_ids = eval_tasks(out_dir, robot, tasks)
    eval_dir = eval_dir or storage.join(out_dir, EVAL_SUMMARY.stage)
    total, done = len(task_ids) * episodes, 0
    results: list[dict[str, Any]] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for task_id in task_ids:
        env = make_env(out_dir, task_id, robot, seed=seed, render=render, image_size=image_size,
                           max_steps=max_steps)
        try:
            for n in range(episodes):
                results.append(_episode(env, policy, n, eval_dir if render else None))
                done += 1
                progress(done, total, f"{task_id} #{n}")
        finally:
            env.close()
    summary = _summary(results, policy.name, robot, seed, episodes, task_ids)
    summary["wall_s"] = round(time.perf_counter() - wall0, 2)
    summary["cpu_s"] = round(time.process_time() - cpu0, 2)
    storage.atomic_write_json(storage.join(eval_dir, EVAL_SUMMARY.name), summary)
    return summary


def _episode(env: TaskEnv, policy: Policy, n: int, video_dir: str | None) -> dict[str, Any]:
    obs, info = env.reset(seed=n)
    policy.reset(env)
    frames = [env.render()] if video_dir else []
    while True:
        obs, _reward, terminated, truncated, info = env.step(policy.act(obs))
        if video_dir:
            frames.append(env.render())
        if terminated or truncated:
            break
    row = {"task_id": env.task.task_id, "episode": n, "episode_index": env.episode_index,
           "success": bool(info["is_success"]), "failure_reason": info.get("failure_reason"),
           "ticks": int(info["ticks"]), "checks": info.get("checks", {})}
    if info.get("unstable"):
        row["unstable"] = info["unstable"]  # what the physics health check saw
    if getattr(policy, "plan_reason", None):  # the scripted policy found no plan: its reason, as the stage gives it
        row["failure_reason"], row["plan_error"] = policy.plan_reason, policy.plan_error
    if video_dir:
        rel = f"videos/{env.task.task_id}_{n:03d}.mp4"
        write_mp4(storage.join(video_dir, rel), np.stack(frames), env.metadata["render_fps"])
        row["video"] = rel
    return row


def _summary(rows: list[dict[str, Any]], policy: str, robot: str, seed: int, episodes: int,
             task_ids: list[str]) -> dict[str, Any]:
    def block(part: list[dict[str, Any]]) -> dict[str, Any]:
        ok = sum(r["success"] for r in part)
        reasons = collections.Counter(r["failure_reason"] for r in part if not r["success"])
        return {"episodes": len(part), "successes": ok, "success_rate": round(ok / len(part), 4) if part else 0.0,
                "failure_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], str(kv[0])))),
                "mean_ticks": round(float(np.mean([r["ticks"] for r in part])), 1) if part else 0.0}

    return {"policy": policy, "robot": robot, "seed": seed, "episodes_per_task": episodes,
            "held_out_first_index": HELD_OUT_FIRST_INDEX, **block(rows),
            "tasks": {t: block([r for r in rows if r["task_id"] == t]) for t in task_ids},
            "per_episode": rows}


def write_mp4(url: str, frames: np.ndarray, fps: int) -> None:
    """(T, H, W, 3) uint8 frames as an H.264 MP4, written atomically."""
    import av

    fd, tmp = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        with av.open(tmp, "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast"})
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            stream.time_base = Fraction(1, fps)
            for img in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            container.mux(stream.encode())
        with open(tmp, "rb") as f_in, storage.atomic_writer(url, "wb") as f_out:
            while chunk := f_in.read(1 << 20):
                f_out.write(chunk)
    finally:
        os.unlink(tmp)
