"""`blueprint geniesim check DIR`: verify a Genie Sim native bundle."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from blueprint_pipeline.cli import app

geniesim_app = typer.Typer(help="Genie Sim 3.x export tools.", no_args_is_help=True)
app.add_typer(geniesim_app, name="geniesim")
console = Console(highlight=False, soft_wrap=True)


@geniesim_app.command("check")
def check(directory: str = typer.Argument(..., metavar="DIR",
                                          help="Native bundle folder, or the geniesim output folder holding native/."),
          stroke_m: float = typer.Option(0.08, "--stroke-m", help="Gripper stroke that grasp widths must fit.")) -> None:
    """Verify the bundle in DIR as Genie Sim's loaders would read it; exit 2 listing every problem."""
    from blueprint_pipeline.geniesim.native.check import check_bundle

    root = Path(directory)
    if (root / "native").is_dir() and not (root / "objects").is_dir():
        root = root / "native"
    counts = check_bundle(root, stroke_m=stroke_m)
    console.print(f"{directory}: ok ({counts['objects']} objects, {counts['interactions']} interaction folders, "
                  f"{counts['tasks']} tasks)", markup=False)
