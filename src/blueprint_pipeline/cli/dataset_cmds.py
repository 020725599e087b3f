"""`blueprint dataset check DIR` and `blueprint dataset info DIR`."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

from blueprint_pipeline.cli import app
from blueprint_pipeline.contract import DATASET_INFO
from blueprint_pipeline.errors import EXIT_INVALID, InvalidInputError

dataset_app = typer.Typer(help="Inspect and verify LeRobot v3.0 datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
console = Console(highlight=False, soft_wrap=True)


_DIR_HELP = "Dataset folder (holds meta/info.json): a local folder, or a URL such as s3://bucket/run/dataset."


@contextlib.contextmanager
def _folder(path: str) -> Iterator[Path]:
    """The dataset as a local folder: `path` itself, or for a URL on another store (s3://, gs://)
    a temporary copy of its files (without hidden names), removed afterwards. The checks read
    the files the way LeRobot does, from a local folder, so a bucket's dataset is checked on
    exactly its bytes."""
    from blueprint_pipeline import storage

    if storage.is_local(path):
        local = Path(storage.local_path(path))
        if not local.is_dir():
            raise InvalidInputError(f"{path}: not a folder")
        yield local
        return
    if not storage.is_dir(path):
        raise InvalidInputError(f"{path}: not a folder")
    with tempfile.TemporaryDirectory(prefix="blueprint-dataset-") as tmp:
        with console.status(f"downloading {path}", spinner="dots"):
            storage.download_tree(path, tmp)
        yield Path(tmp)


@dataset_app.command("check")
def check(directory: str = typer.Argument(..., metavar="DIR", help=_DIR_HELP)) -> None:
    """Verify every invariant of the dataset in DIR; exit 2 listing each violation."""
    from blueprint_pipeline.dataset.check import check_dataset

    with _folder(directory) as root:
        problems = check_dataset(root)
        if problems:
            console.print(f"{directory}: {len(problems)} problem(s)", markup=False)
            for p in problems:
                console.print(f"  {p}", markup=False)
            raise typer.Exit(EXIT_INVALID)
        info = json.loads((root / DATASET_INFO.name).read_text(encoding="utf-8"))
    console.print(f"{directory}: ok ({info['total_episodes']} episodes, {info['total_frames']} frames)",
                  markup=False)


@dataset_app.command("info")
def info(directory: str = typer.Argument(..., metavar="DIR", help=_DIR_HELP)) -> None:
    """Summarise the dataset in DIR: counts, features and files."""
    with _folder(directory) as root:
        _print_info(directory, root)


def _print_info(directory: str, root: Path) -> None:
    path = root / DATASET_INFO.name
    if not path.is_file():
        raise InvalidInputError(f"{directory}: no meta/info.json (not a finished LeRobot dataset)")
    meta = json.loads(path.read_text(encoding="utf-8"))
    console.print(f"LeRobot {meta.get('codebase_version')}  robot {meta.get('robot_type')}  fps {meta.get('fps')}",
                  markup=False)
    console.print(f"episodes {meta.get('total_episodes')}  frames {meta.get('total_frames')}  "
                  f"tasks {meta.get('total_tasks')}", markup=False)
    for key, ft in meta.get("features", {}).items():
        extra = ""
        if ft.get("dtype") == "video":
            extra = f"  {ft.get('info', {}).get('video.codec')} {ft.get('info', {}).get('video.pix_fmt')}"
        console.print(f"  {key:34s} {ft.get('dtype'):8s} {ft.get('shape')}{extra}", markup=False)
    n_data = len(list(root.glob("data/chunk-*/file-*.parquet")))
    n_video = len(list(root.glob("videos/*/chunk-*/file-*.mp4")))
    console.print(f"files: {n_data} data, {n_video} video", markup=False)
