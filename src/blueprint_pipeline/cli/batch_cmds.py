"""`blueprint batch`: the whole pipeline on many scenes, locally or on a Ray cluster."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from blueprint_pipeline.cli import app

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def summary_table(report) -> Table:  # report: batch.runner.BatchReport
    totals = report.totals()
    table = Table(title=f"batch: {totals['scenes_ok']} ok, {totals['scenes_failed']} failed "
                        f"({report.executor} executor, {report.wall_s:.1f} s)", title_justify="left")
    table.add_column("scene", no_wrap=True)
    for name in ("status", "eps ok/all", "simulated", "wall s", "CPU s", "eps/CPU-h"):
        table.add_column(name, justify="left" if name == "status" else "right", no_wrap=True)
    table.add_column("note")
    for s in report.scenes:
        eph = s.episodes_per_cpu_hour
        failures = ", ".join(f"{reason} {n}" for reason, n in sorted(s.episode_failures.items()))
        note = f"{s.failed_stage}: {s.error}" if s.status == "failed" else (
            "up to date" if s.stages_skipped and not s.stages_run else "")
        if failures:
            note = f"failed episodes: {failures}; {note}".rstrip("; ")
        status = {"ok": "[green]ok[/]", "failed": "[red]FAILED[/]"}.get(s.status, s.status)
        table.add_row(s.scene_id, status, f"{s.succeeded}/{s.episodes}", str(s.episodes_simulated),
                      f"{s.wall_s:.1f}", f"{s.cpu_s:.1f}", f"{eph:,.0f}" if eph else "-", note[:80])
    eph = totals["episodes_per_cpu_hour"]
    table.add_section()
    table.add_row("total", f"{totals['scenes_ok']}/{totals['scenes']} ok",
                  f"{totals['episodes_succeeded']}/{totals['episodes']}", str(totals["episodes_simulated"]),
                  f"{totals['wall_s']:.1f}", f"{totals['cpu_s']:.1f}", f"{eph:,.0f}" if eph else "-",
                  f"{totals['cpu_s_per_scene'] or 0:.1f} CPU s per scene")
    return table


@app.command()
def batch(
    scenes: str = typer.Argument(..., help="Folder of manifests (*.json) or a text file of manifest paths/URLs."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder or URL; scene S goes to OUT/S/."),
    executor: str = typer.Option("local", "--executor", help="local (worker processes) or ray."),
    ray_address: str = typer.Option(None, "--ray-address",
                                    help="Ray cluster address (e.g. 10.0.0.5:6379); default: RAY_ADDRESS, "
                                         "a `ray start --head` on this machine, else a private local Ray."),
    episodes: int = typer.Option(None, "--episodes", "-n", help="Episodes per scene (default: the episodes stage's)."),
    workers: int = typer.Option(None, "--workers", "-w",
                                help="Worker processes per scene (local); minimum tasks in flight per scene (ray)."),
    parallel: int = typer.Option(None, "--parallel", "-p", min=1,
                                 help="Scenes run at once (default: 1 local, up to 8 with ray)."),
    robot: str = typer.Option("franka", "--robot", help="Robot for episodes: franka or ur10."),
    seed: int = typer.Option(0, "--seed", help="Run seed; every random draw derives from (scene, stage, item, seed)."),
    render: bool = typer.Option(False, "--render/--no-render", help="Render camera images in episodes."),
    image_size: int = typer.Option(128, "--image-size", help="Rendered cameras' resolution: 128, 224 or 256."),
    visual_randomization: bool = typer.Option(True, "--visual-randomization/--no-visual-randomization",
                                              help="Rendering: draw each episode's lights, colours and camera pose."),
    shadows: bool = typer.Option(False, "--shadows/--no-shadows", help="Rendering: shadows from every light (slower)."),
    force: bool = typer.Option(False, "--force", help="Rerun every stage even if its .complete.json is current."),
) -> int:
    """Run the whole pipeline on every scene in SCENES, writing OUT/<scene_id>/ and OUT/.batch.json.

    Rerunning the same command resumes an interrupted batch. Exit 1 if any scene failed.
    """
    from blueprint_pipeline.batch.cluster import connect
    from blueprint_pipeline.batch.runner import marker_url, run_batch
    from blueprint_pipeline.batch.scenes import list_scenes
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.contract import RunOptions
    from blueprint_pipeline.errors import EXIT_FAILURE, InvalidInputError
    from blueprint_pipeline.logs import setup_logging

    settings = get_settings()
    # checked before any scene is listed: an unknown robot fails now, not in every scene's episodes
    options = RunOptions.create(robot=robot, episodes=episodes, workers=workers, render=render, seed=seed,
                                executor=executor, settings=settings, image_size=image_size,
                                visual_randomization=visual_randomization, shadows=shadows)
    if ray_address and executor != "ray":
        raise InvalidInputError("--ray-address needs --executor ray")
    setup_logging(json_lines=settings.log_json, level="WARNING")
    batch_scenes = list_scenes(scenes)
    if executor == "ray":
        ray = connect(ray_address)
        err_console.print(f"Ray: {int(ray.cluster_resources().get('CPU', 0))} CPUs in the cluster")
    default_parallel = 1 if executor == "local" else 8
    done = [0]

    def on_scene(rep) -> None:
        done[0] += 1
        what = "ok" if rep.status == "ok" else f"FAILED in {rep.failed_stage}"
        err_console.print(f"[{done[0]}/{len(batch_scenes)}] {rep.scene_id}: {what} ({rep.wall_s:.1f} s)")

    report = run_batch(batch_scenes, out, options, settings=settings, parallel=parallel or default_parallel,
                       force=force, on_scene=on_scene)
    console.print(summary_table(report))
    console.print(f"batch record: {marker_url(out)}")
    return EXIT_FAILURE if report.failed else 0
