"""Stage `usd`: per-object files and the scene with UsdPhysics, validated after writing.

Objects with a stored mesh (simready/meshes.py) are authored from it: the meshes are loaded once
here from the simready folder and passed to the writer (usd/objects.py has the layout)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InternalError
from blueprint_pipeline.contract import SCENE_NORMALIZED, SIMREADY_PHYSICS, StageContext, StageResult
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.simready.io import load_physics
from blueprint_pipeline.simready.meshes import ObjectMesh, load_meshes
from blueprint_pipeline.usd.names import SCENE_FILE
from blueprint_pipeline.usd.validate import validate_scene
from blueprint_pipeline.usd.writer import UsdWriteResult, write_usd


class UsdValidationError(InternalError):
    """The written USD does not say what physics.json says (or usd-core's validators object)."""


def _local_copy(usd_url: str, files: list[str]) -> tuple[str, str | None]:
    """A local folder holding the written files (the folder itself when it is local)."""
    if "://" not in usd_url or usd_url.startswith("file://"):
        return usd_url.removeprefix("file://"), None
    tmp = tempfile.mkdtemp(prefix="bp-usd-")
    for rel in files:
        dest = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(storage.read_bytes(storage.join(usd_url, rel)))
    return tmp, tmp


def write_and_validate(usd_url: str, scene, physics, asset_root: str | None,
                       meshes: Mapping[str, ObjectMesh] | None = None) -> tuple[UsdWriteResult, dict]:
    """`meshes`: the stored meshes physics.json names (`load_meshes`), by object id."""
    objects = list(scene.objects)
    written = write_usd(usd_url, scene.header, objects, physics, asset_root, meshes)
    folder, tmp = _local_copy(usd_url, written.files)
    try:
        report = validate_scene(os.path.join(folder, SCENE_FILE), scene.header, objects, physics, written.names)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if not report.ok:
        raise UsdValidationError(report.text())
    summary = {
        "objects": len(objects),
        "rigid_bodies": sum(1 for o in objects if physics.objects[o.id].is_dynamic or o.articulation is not None),
        "visuals": written.visuals,
        "objects_with_notes": len(written.notes),
        "notes": {k: v for k, v in list(written.notes.items())[:50]},
        "validators_run": report.validators_run,
        "prims_checked": report.prims_checked,
    }
    return written, summary


def run(ctx: StageContext) -> StageResult:
    scene = load_scene(ctx.url(SCENE_NORMALIZED))
    physics = load_physics(ctx.url(SIMREADY_PHYSICS))
    meshes = load_meshes(ctx.stage_dir("simready"), physics)
    written, summary = write_and_validate(ctx.stage_dir("usd"), scene, physics, ctx.asset_root(), meshes)
    return StageResult(outputs=[f"usd/{f}" for f in written.files], summary=summary,
                       items_ok=len(scene.objects), items_failed=0)
