"""Turning an uploaded scene into a job's input folder.

Two kinds of upload: a scene manifest (JSON), or a tar.gz bundle holding `scene_manifest.json`
at its root or inside a single top-level folder (e.g. a pipeline output folder packed with the
manifest beside it). Bundles are extracted with the archive checks (no links, no absolute or
`..` names, size and ratio limits). Either way the manifest is validated by running the
pipeline's own scene stage on it, into the job's output folder, so a bad scene is refused at
submit time with the contract's own messages, and the job later skips that stage.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from blueprint_pipeline.archive import ArchiveLimits, safe_extract
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.contract import SCENE_NORMALIZED, RunOptions, StageContext

MANIFEST_NAME = "scene_manifest.json"
MANIFEST_TYPES = ("application/json",)
BUNDLE_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar+gzip", "application/tar+gzip")


@dataclass(frozen=True)
class PreparedInput:
    manifest_rel: str  # relative to the job folder
    scene_id: str | None
    kind: str  # "manifest" | "bundle"


def input_kind(content_type: str | None) -> str | None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base in MANIFEST_TYPES:
        return "manifest"
    if base in BUNDLE_TYPES:
        return "bundle"
    return None


def prepare_input(upload: Path, kind: str, job_dir: Path, options: RunOptions,
                  limits: ArchiveLimits) -> PreparedInput:
    """Place the upload under job_dir/input and validate it; raises InvalidInputError."""
    input_dir = job_dir / "input"
    if kind == "manifest":
        input_dir.mkdir(parents=True)
        manifest = input_dir / MANIFEST_NAME
        shutil.move(str(upload), manifest)
    else:
        safe_extract(upload, input_dir / "bundle", limits)
        manifest = _find_manifest(input_dir / "bundle")
    scene_id = _validate(manifest, job_dir, options)
    return PreparedInput(str(manifest.relative_to(job_dir)), scene_id, kind)


def _find_manifest(root: Path) -> Path:
    candidates = [root / MANIFEST_NAME]
    tops = [p for p in root.iterdir() if p.is_dir()]
    if len(tops) == 1:
        candidates.append(tops[0] / MANIFEST_NAME)
    for c in candidates:
        if c.is_file():
            return c
    raise InvalidInputError(f"bundle: no {MANIFEST_NAME} at its root or in its single top-level folder")


def _validate(manifest: Path, job_dir: Path, options: RunOptions) -> str | None:
    """Run the scene stage (streaming reader, contract, normalisation); returns the scene id."""
    from blueprint_pipeline.runner import run_pipeline
    from blueprint_pipeline.scene.io import read_header

    out = job_dir / "out"
    ctx = StageContext(manifest_url=str(manifest), out_url=str(out), options=options)
    run_pipeline(ctx, only="scene")
    return read_header(ctx.url(SCENE_NORMALIZED)).scene_id
