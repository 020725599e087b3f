"""Crash-safe placement of a finished dataset folder at `<out>/dataset`.

The writer builds the dataset in `<out>/.dataset.staging`; only a finished folder (meta/info.json
written last) is moved into place, by renames on the same file system:

    dataset -> .dataset.previous;  .dataset.staging -> dataset;  remove .dataset.previous

A crash while writing leaves the previous dataset untouched; a crash between the two renames
leaves `.dataset.previous`, which `recover` puts back before the next attempt. So `<out>/dataset`
is always either absent or a complete dataset.

For object stores (no rename) the finished local folder is uploaded with `meta/info.json` removed
first and uploaded last, so a half-uploaded dataset never claims to be complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fsspec.implementations.local import LocalFileSystem

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.storage.fs import filesystem

STAGING_NAME = ".dataset.staging"
PREVIOUS_NAME = ".dataset.previous"


def local_path(url: str) -> Path | None:
    """The local folder behind `url`, or None when it lives on an object store."""
    fs, path = filesystem(str(url))  # with BP_STORAGE_OPTIONS_JSON
    return Path(path) if isinstance(fs, LocalFileSystem) else None


def recover(final: Path) -> None:
    """Undo a publish that stopped between its renames, and drop unfinished staging folders."""
    previous = final.parent / PREVIOUS_NAME
    if previous.exists():
        if final.exists():
            shutil.rmtree(previous)
        else:
            os.replace(previous, final)
    staging = final.parent / STAGING_NAME
    if staging.exists():
        shutil.rmtree(staging)


def publish_local(staging: Path, final: Path) -> None:
    if not (staging / layout.INFO_PATH).is_file():
        raise RuntimeError(f"refusing to publish {staging.name}: it has no {layout.INFO_PATH}")
    previous = final.parent / PREVIOUS_NAME
    if final.exists():
        os.replace(final, previous)
    os.replace(staging, final)
    if previous.exists():
        shutil.rmtree(previous)


def publish_remote(staging: Path, final_url: str) -> None:
    fs, root = filesystem(str(final_url))
    info_remote = f"{root.rstrip('/')}/{layout.INFO_PATH}"
    if fs.exists(info_remote):
        fs.rm(info_remote)  # from here on the old copy no longer claims to be complete
    if fs.exists(root):
        fs.rm(root, recursive=True)
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    for p in files:
        rel = p.relative_to(staging).as_posix()
        if rel != layout.INFO_PATH:
            fs.put_file(str(p), f"{root.rstrip('/')}/{rel}")
    fs.put_file(str(staging / layout.INFO_PATH), info_remote)
