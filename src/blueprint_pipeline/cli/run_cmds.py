"""`blueprint run`: the whole pipeline on one manifest; `blueprint config show`."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from blueprint_pipeline import markers, pipeline
from blueprint_pipeline.cli import app
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.contract import RunOptions, StageContext

console = Console(highlight=False)
log = logging.getLogger("blueprint_pipeline.cli")

config_app = typer.Typer(help="Inspect the BP_* configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _where(out: str) -> str:
    return str(Path(out).resolve()) if "://" not in out else out


@app.command()
def run(
    manifest: str = typer.Argument(..., help="Path or URL of scene_manifest.json."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder or URL (gs://, s3://, memory://)."),
    from_stage: str = typer.Option(None, "--from", help="Start at this stage (earlier stages' outputs must exist)."),
    only: str = typer.Option(None, "--only", help="Run only this stage."),
    force: bool = typer.Option(False, "--force", help="Rerun selected stages even if their .complete.json is current."),
    strict: bool = typer.Option(False, "--strict", help="Reject unknown manifest keys."),
    log_json: bool = typer.Option(None, "--log-json", help="Logs as JSON lines on stderr (default: BP_LOG_JSON)."),
    robot: str = typer.Option("franka", "--robot", help="Robot for episodes: franka or ur10."),
    episodes: int = typer.Option(None, "--episodes", "-n", help="Episodes to simulate (default: the episodes stage's)."),
    workers: int = typer.Option(None, "--workers", "-w", help="Worker processes (default: BP_WORKERS)."),
    render: bool = typer.Option(False, "--render/--no-render", help="Render camera images in episodes."),
    image_size: int = typer.Option(128, "--image-size", help="Rendered cameras' resolution: 128, 224 or 256 (square)."),
    visual_randomization: bool = typer.Option(True, "--visual-randomization/--no-visual-randomization",
                                              help="Rendering: draw each episode's lights, colours and camera pose."),
    shadows: bool = typer.Option(False, "--shadows/--no-shadows", help="Rendering: shadows from every light (slower)."),
    seed: int = typer.Option(0, "--seed", help="Run seed; every random draw derives from (scene, stage, item, seed)."),
    keep_failed: bool = typer.Option(False, "--keep-failed", help="Also keep failed episodes (labelled)."),
    executor: str = typer.Option("local", "--executor", help="Where episodes run: local (worker processes) or ray."),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster address (with --executor ray)."),
) -> None:
    """Run the pipeline's stages on MANIFEST, writing results under OUT.

    Stages whose .complete.json matches their current inputs are skipped; a failed stage
    writes OUT/<stage>/.failed.json and stops the run (exit 1, or 2 for invalid input).
    """
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.logs import setup_logging
    from blueprint_pipeline.runner import run_pipeline, select_stages

    settings = get_settings()
    json_logs = settings.log_json if log_json is None else log_json
    err_console = Console(stderr=True, highlight=False)  # shared by progress and log lines
    setup_logging(json_lines=json_logs, level=settings.log_level, console=err_console)
    # checked now (an unknown robot fails before any stage, not after four)
    options = RunOptions.create(robot=robot, episodes=episodes, workers=workers, render=render, seed=seed,
                                strict=strict, keep_failed_episodes=keep_failed, executor=executor,
                                settings=settings, image_size=image_size,
                                visual_randomization=visual_randomization, shadows=shadows)
    if "://" not in manifest and not Path(manifest).is_file():
        raise InvalidInputError(f"manifest {manifest!r} does not exist")
    if executor != "local" or ray_address:
        from blueprint_pipeline.batch.cluster import connect

        if executor != "ray":
            raise InvalidInputError("--ray-address needs --executor ray")
        connect(ray_address)
    stages = [s.name for s in select_stages(from_stage, only)]
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<10}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                        console=err_console, disable=json_logs, transient=False)
    tasks = {name: progress.add_task(name, total=None, status="waiting", start=False) for name in stages}
    current: dict[str, str] = {}

    def on_items(done: int, total: int | None, what: str) -> None:
        stage = current.get("stage")
        if stage in tasks:
            progress.update(tasks[stage], completed=done, total=total, status=what)

    def on_stage(stage: str, event: str, outcome: object) -> None:
        task = tasks[stage]
        if event == "start":
            current["stage"] = stage
            progress.start_task(task)
            progress.update(task, status="running")
        else:
            status = {"ok": "done", "skipped": "skipped (up to date)", "failed": "FAILED"}[event]
            total = progress.tasks[task].total
            progress.update(task, status=status, total=total or 1, completed=total or 1)
            progress.stop_task(task)
        log.debug("stage %s: %s", stage, event)

    ctx = StageContext(manifest_url=manifest, out_url=out, options=options, settings=settings,
                       progress=on_items)
    try:
        with progress:
            outcomes = run_pipeline(ctx, from_stage=from_stage, only=only, force=force, observer=on_stage)
    except Exception:
        stage = current.get("stage")
        if stage:
            err_console.print(f"stage {stage} failed; details: {_where(out)}/{stage}/{markers.FAILED}")
        raise
    for o in outcomes:
        console.print(f"{o.stage:10s} {o.status:8s} {o.seconds:7.2f} s")
    console.print(f"results: {_where(out)}")


@config_app.command("show")
def config_show(
    markdown: bool = typer.Option(False, "--markdown", help="Print every variable with its default as a Markdown table."),
) -> None:
    """Print the effective configuration (BP_* variables), secret values masked."""
    from blueprint_pipeline.config import Settings, effective_config, get_settings

    if markdown:  # the defaults (not this environment), for the README
        console.print("| variable | default | meaning |\n|---|---|---|", markup=False)
        for var, value, description in effective_config(Settings.model_construct()):
            console.print(f"| `{var}` | {value} | {description} |", markup=False, soft_wrap=True)
        return
    table = Table("variable", "value", "meaning", box=None, pad_edge=False)
    for var, value, description in effective_config(get_settings()):
        table.add_row(var, value, description)
    console.print(table)


__all__ = ["config_show", "pipeline", "run"]
