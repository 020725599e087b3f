"""`blueprint run`: the whole pipeline on one manifest."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from blueprint_pipeline.cli import app
from blueprint_pipeline.pipeline import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline

console = Console(highlight=False)


@app.command()
def run(
    manifest: str = typer.Argument(..., help="Path or URL of scene_manifest.json."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder or URL."),
    from_stage: str = typer.Option(None, "--from", help="Start at this stage."),
    only: str = typer.Option(None, "--only", help="Run only this stage."),
    force: bool = typer.Option(False, "--force", help="Rerun stages even if complete."),
    strict: bool = typer.Option(False, "--strict", help="Reject unknown manifest keys."),
) -> None:
    """Run every stage of the pipeline on MANIFEST, writing results under OUT."""
    ctx = StageContext(manifest_url=manifest, out_url=out, options=RunOptions(strict=strict))
    outcomes = run_pipeline(ctx, from_stage=from_stage, only=only, force=force)
    for o in outcomes:
        console.print(f"{o.stage:10s} {o.status:8s} {o.seconds:6.2f}s")
    console.print(f"results: {Path(out).resolve() if '://' not in out else out}")
