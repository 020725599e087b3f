"""`blueprint eval OUT_DIR`: a policy in the generated tasks, on held-out starts (evaluate/)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from blueprint_pipeline.cli import app
from blueprint_pipeline.contract import EVAL_SUMMARY, RunOptions
from blueprint_pipeline.errors import InvalidInputError

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


@app.command("eval")
def eval_command(
    out_dir: str = typer.Argument(..., metavar="OUT_DIR",
                                  help="Pipeline output folder holding scene/, simready/ and geniesim/."),
    policy: str = typer.Option("scripted", "--policy",
                               help="scripted (the episodes stage's planner acting through the environment: "
                                    "validates the harness), or a LeRobot checkpoint folder (needs lerobot)."),
    episodes: int = typer.Option(10, "--episodes", "-n", help="Held-out episodes per task."),
    task: list[str] = typer.Option(None, "--task", help="Task id to evaluate (repeatable; default: every "
                                                         "simulated task of the robot: pick_place, stack, open_close)."),
    robot: str = typer.Option("franka", "--robot", help="franka or ur10."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the held-out starts."),
    render: bool = typer.Option(False, "--render", help="Render the cameras (observations) and write one MP4 "
                                                         "per episode under the eval folder's videos/."),
    image_size: int = typer.Option(128, "--image-size", help="Rendered cameras' resolution: 128, 224 or 256."),
    max_steps: int = typer.Option(None, "--max-steps", help="Ticks (30 Hz) before an episode is cut (default 600)."),
    eval_dir: str = typer.Option(None, "--eval-dir", help="Where summary.json goes (default OUT_DIR/eval)."),
) -> None:
    """Run a policy on held-out starts of the generated tasks; write eval/summary.json."""
    from blueprint_pipeline.evaluate.policies import load_policy
    from blueprint_pipeline.evaluate.run import eval_tasks, evaluate

    RunOptions.create(robot=robot, seed=seed, image_size=image_size)  # the same checks as every command
    if max_steps is not None and max_steps < 1:
        raise InvalidInputError(f"--max-steps: must be at least 1, got {max_steps}")
    if episodes < 1:
        raise InvalidInputError(f"--episodes: must be at least 1, got {episodes}")
    tasks = eval_tasks(out_dir, robot, task or None)  # checked before the progress bar starts
    chosen = load_policy(policy)
    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[what]}"),
                  TimeElapsedColumn(), console=err_console) as bar:
        job = bar.add_task("eval", total=None, what="")

        def on_progress(done: int, total: int, what: str) -> None:
            bar.update(job, completed=done, total=total, what=what)

        summary = evaluate(out_dir, chosen, robot=robot, episodes=episodes, seed=seed, tasks=tasks,
                           render=render, image_size=image_size, eval_dir=eval_dir, max_steps=max_steps,
                           progress=on_progress)
    for task_id, block in summary["tasks"].items():
        console.print(f"  {task_id}: {block['successes']}/{block['episodes']} {block['failure_reasons'] or ''}",
                      markup=False)
    where = eval_dir or f"{out_dir.rstrip('/')}/{EVAL_SUMMARY.stage}"
    console.print(f"eval ({summary['policy']}): {summary['successes']}/{summary['episodes']} succeeded "
                  f"(success rate {summary['success_rate']:.2f}) -> {where}/{EVAL_SUMMARY.name}", markup=False)
