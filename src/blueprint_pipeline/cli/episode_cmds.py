"""`blueprint episodes OUT_DIR`: simulate pick_place episodes from a pipeline output folder."""

from __future__ import annotations

import typer
from rich.console import Console

from blueprint_pipeline.cli import app
from blueprint_pipeline.contract import EPISODES_SUMMARY, RunOptions, StageContext

console = Console(highlight=False, soft_wrap=True)


@app.command()
def episodes(
    out_dir: str = typer.Argument(..., metavar="OUT_DIR",
                                  help="Pipeline output folder holding scene/, simready/ and geniesim/."),
    count: int = typer.Option(None, "--episodes", "-n", help="Number of episodes (default: 2 per simulated task, at most 20)."),
    workers: int = typer.Option(None, "--workers", "-w", help="Worker processes (default: BP_WORKERS)."),
    render: bool = typer.Option(False, "--render", help="Render a scene and a wrist camera (RGB)."),
    image_size: int = typer.Option(128, "--image-size", help="Rendered cameras' resolution: 128, 224 or 256 (square)."),
    visual_randomization: bool = typer.Option(True, "--visual-randomization/--no-visual-randomization",
                                              help="Rendering: draw each episode's lights, colours and camera pose."),
    shadows: bool = typer.Option(False, "--shadows/--no-shadows", help="Rendering: shadows from every light (slower)."),
    robot: str = typer.Option("franka", "--robot", help="franka or ur10."),
    seed: int = typer.Option(0, "--seed", help="Run seed: episode i is reproducible from (scene, task, seed, i)."),
    keep_failed: bool = typer.Option(False, "--keep-failed", help="Also write failed episodes (labelled)."),
) -> None:
    """Simulate episodes in MuJoCo and write OUT_DIR/episodes/ (resumes: only missing episodes run)."""
    from blueprint_pipeline.runner import run_pipeline

    opts = RunOptions.create(robot=robot, episodes=count, workers=workers, render=render, seed=seed,
                             keep_failed_episodes=keep_failed, image_size=image_size,
                             visual_randomization=visual_randomization, shadows=shadows)
    ctx = StageContext(manifest_url="", out_url=out_dir, options=opts)
    outcome = run_pipeline(ctx, only="episodes", force=True)[-1]
    s = outcome.result.summary if outcome.result else {}
    console.print(f"episodes: {s.get('succeeded', 0)}/{s.get('episodes', 0)} succeeded "
                  f"(success rate {s.get('success_rate', 0.0):.2f}; failures {s.get('failure_reasons', {})}) "
                  f"in {outcome.seconds:.1f}s -> {EPISODES_SUMMARY.url(out_dir)}", markup=False)
