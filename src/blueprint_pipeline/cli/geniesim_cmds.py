"""`blueprint geniesim check DIR` and `blueprint geniesim install DIR --assets ASSETS`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from blueprint_pipeline.cli import app

geniesim_app = typer.Typer(help="Genie Sim 3.x export tools.", no_args_is_help=True)
app.add_typer(geniesim_app, name="geniesim")
console = Console(highlight=False, soft_wrap=True)


def _bundle_root(directory: str) -> Path:
    root = Path(directory)
    if (root / "native").is_dir() and not (root / "objects").is_dir():
        root = root / "native"
    return root


@geniesim_app.command("check")
def check(directory: str = typer.Argument(..., metavar="DIR",
                                          help="Native bundle folder, or the geniesim output folder holding native/."),
          stroke_m: float = typer.Option(0.08, "--stroke-m", help="Gripper stroke that grasp widths must fit."),
          assets: str | None = typer.Option(None, "--assets", metavar="ASSETS",
                                            help="The Genie Sim assets folder SIM_ASSETS will be: check what Genie "
                                                 "Sim loads from it (robot files, the tasks' files).")) -> None:
    """Verify the bundle in DIR as Genie Sim's loaders and planner would use it; exit 2 listing every problem."""
    from blueprint_pipeline.geniesim.native.check import check_bundle

    counts = check_bundle(_bundle_root(directory), stroke_m=stroke_m, assets=assets)
    for stage, arms in sorted(counts["grasps_per_arm"].items()):
        console.print(f"  {stage}: usable grasps left {arms['left']}, right {arms['right']}", markup=False)
    where = f"; assets folder {assets} ok" if assets else "; add --assets to check the assets folder"
    console.print(f"{directory}: ok ({counts['objects']} objects, {counts['interactions']} interaction folders, "
                  f"{counts['tasks']} tasks{where})", markup=False)


@geniesim_app.command("install")
def install(directory: str = typer.Argument(..., metavar="DIR",
                                            help="Native bundle folder, or the geniesim output folder holding native/."),
            assets: str = typer.Option(..., "--assets", metavar="ASSETS",
                                       help="Genie Sim's existing assets folder (holding robot/); SIM_ASSETS."),
            link: bool = typer.Option(False, "--link", help="Symlink the bundle's folders instead of copying them.")) -> None:
    """Add the bundle's objects/, interaction/ and scenes/ folders to ASSETS: never overwrites; any
    conflict stops it before anything is written (exit 2)."""
    from blueprint_pipeline.geniesim.native.install import install_bundle

    report = install_bundle(_bundle_root(directory), assets, link=link)
    verb = "linked" if link else "copied"
    console.print(f"{assets}: {len(report.installed)} folders {verb}, {len(report.already_present)} already present; "
                  f"set SIM_ASSETS={Path(assets).resolve()} and run `blueprint geniesim check {directory} "
                  f"--assets {assets}`", markup=False)
