"""`blueprint serve` and the client commands `submit`, `status`, `wait`, `download`, `cancel`."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from blueprint_pipeline.cli import app
from blueprint_pipeline.errors import InvalidInputError

console = Console(highlight=False)

_SERVER_HELP = "Service URL, e.g. http://127.0.0.1:8080 (default: BP_SERVICE_URL)."
_JSON_HELP = "Print the job as JSON."


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (127.0.0.1: this machine only)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on."),
    data_dir: str = typer.Option(None, "--data-dir", help="Job store and job folders (default: BP_SERVICE_DATA_DIR)."),
    hash_key: bool = typer.Option(False, "--hash-key",
                                  help="Read an API key on stdin, print its sha256 for BP_SERVICE_API_KEY_HASHES, exit."),
) -> None:
    """Run the generation service (API key required on every endpoint except /healthz)."""
    if hash_key:
        from blueprint_pipeline.service.auth import hash_key as digest

        key = typer.get_text_stream("stdin").readline().strip()
        if not key:
            raise InvalidInputError("--hash-key: no key on standard input")
        console.print(digest(key))
        return
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.logs import setup_logging
    from blueprint_pipeline.service.config import ServiceConfig
    from blueprint_pipeline.service.server import serve as run_server

    settings = get_settings()
    setup_logging(json_lines=settings.log_json, level=settings.log_level)
    config = ServiceConfig.from_settings(settings, data_dir=data_dir)
    if config.faults is not None:
        console.print(f"[bold yellow]fault injection enabled:[/] {config.faults}")
    run_server(config, host=host, port=port, log_level=settings.log_level)


def _client(server: str | None, job_id: str | None = None):
    from blueprint_pipeline.client.api import check_job_id
    from blueprint_pipeline.client.factory import client_from_settings

    if job_id is not None:
        check_job_id(job_id)  # before anything else: a bad id never reaches a URL
    return client_from_settings(server)


def _print_job(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(job))
        return
    progress = job.get("progress") or {}
    where = ""
    if progress.get("stage"):
        where = f"  stage {progress.get('stages_done', 0) + 1}/{progress.get('stages_total')}: {progress['stage']}"
        if progress.get("total"):
            where += f" ({progress.get('done')}/{progress['total']})"
    console.print(f"{job['id']}  {job['state']}{where}")
    counts = job.get("counts") or {}
    if counts.get("episodes_ok") or counts.get("episodes_failed"):
        console.print(f"  episodes: {counts.get('episodes_ok', 0)} ok, {counts.get('episodes_failed', 0)} failed")
    if job.get("error"):
        console.print(f"  error: {job['error']}")


def _report_change():
    """An on_update callback printing the job's state and stage when they change (stderr)."""
    from blueprint_pipeline.cli import err_console

    last: list[tuple] = [()]

    def on_update(job: dict[str, Any]) -> None:
        now = (job["state"], (job.get("progress") or {}).get("stage"))
        if now != last[0]:
            last[0] = now
            err_console.print(f"{job['id']}  {now[0]}" + (f"  stage: {now[1]}" if now[1] else ""))

    return on_update


@app.command()
def submit(
    scene: str = typer.Argument(..., help="Scene manifest (.json) or export bundle (.tar.gz)."),
    server: str = typer.Option(None, "--server", help=_SERVER_HELP),
    robot: str = typer.Option("franka", "--robot", help="Robot to generate episodes with."),
    episodes: int = typer.Option(None, "--episodes", help="Episodes to generate (default: the stage's; checked by the service)."),
    render: bool = typer.Option(False, "--render", help="Render camera images."),
    image_size: int = typer.Option(128, "--image-size", help="Rendered cameras' resolution: 128, 224 or 256."),
    visual_randomization: bool = typer.Option(True, "--visual-randomization/--no-visual-randomization",
                                              help="Rendering: draw each episode's lights, colours and camera pose."),
    shadows: bool = typer.Option(False, "--shadows/--no-shadows", help="Rendering: shadows from every light (slower)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw (0 to 2^32 - 1; checked by the service)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the job to finish."),
    out: str = typer.Option(None, "--out", help="With --wait: download the result into this (new or empty) folder."),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Submit SCENE to the service; prints the job id."""
    if out is not None and not wait:
        raise InvalidInputError("--out needs --wait")
    with _client(server) as client:
        job = client.submit(scene, robot=robot, episodes=episodes, render=render, seed=seed, image_size=image_size,
                            visual_randomization=visual_randomization, shadows=shadows)
        _print_job(job, as_json)
        if wait:
            job = client.wait(job["id"], on_update=_report_change())
            _print_job(job, as_json)
            if out is not None:
                files = client.download(job["id"], out)
                console.print(f"downloaded {len(files)} files into {out}")


@app.command()
def status(
    job_id: str = typer.Argument(..., help="Job id."),
    server: str = typer.Option(None, "--server", help=_SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Show a job's state, progress, counts and error."""
    with _client(server, job_id) as client:
        _print_job(client.status(job_id), as_json)


@app.command("wait")
def wait_cmd(
    job_id: str = typer.Argument(..., help="Job id."),
    server: str = typer.Option(None, "--server", help=_SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Wait until a job ends (exit 0 if it succeeded, 1 if it failed or was cancelled)."""
    with _client(server, job_id) as client:
        _print_job(client.wait(job_id, on_update=_report_change()), as_json)


@app.command()
def download(
    job_id: str = typer.Argument(..., help="Job id."),
    out: str = typer.Option(..., "--out", help="New or empty folder for dataset/ and report/."),
    server: str = typer.Option(None, "--server", help=_SERVER_HELP),
) -> None:
    """Download a finished job's dataset and report, verify the sha256, and extract them safely."""
    with _client(server, job_id) as client:
        files = client.download(job_id, out)
    console.print(f"downloaded {len(files)} files into {out}")


@app.command()
def cancel(
    job_id: str = typer.Argument(..., help="Job id."),
    server: str = typer.Option(None, "--server", help=_SERVER_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Cancel a queued or running job."""
    with _client(server, job_id) as client:
        _print_job(client.cancel(job_id), as_json)
