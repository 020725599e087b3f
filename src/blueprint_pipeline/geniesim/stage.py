"""The `geniesim` stage: reads the normalised scene and physics, writes `<out>/geniesim/`."""

from __future__ import annotations

import os
from pathlib import Path

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.geniesim.embedders import make_embedder
from blueprint_pipeline.geniesim.export import build_export, write_export
from blueprint_pipeline.geniesim.semantics import usd_object_paths
from blueprint_pipeline.pipeline import StageContext, StageResult
from blueprint_pipeline.scene.io import load_scene

STAGE = "geniesim"


def _setting(ctx: StageContext, name: str, env: str, default: str | None = None) -> str | None:
    value = getattr(ctx.settings, name, None) if ctx.settings is not None else None
    return str(value) if value is not None else os.environ.get(env, default)


def run(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.simready.io import load_physics  # written by the simready stage's package

    scene = load_scene(ctx.path("scene", "normalized.jsonl"))
    physics_file = load_physics(ctx.path("simready", "physics.json"))
    if physics_file.scene_id != scene.header.scene_id:
        raise InvalidInputError(f"simready/physics.json is for scene {physics_file.scene_id!r}, "
                                f"the normalised scene is {scene.header.scene_id!r}")
    if not storage.exists(ctx.path("usd", "scene.usda")):
        raise InvalidInputError("usd/scene.usda is missing: run the usd stage first")
    commercial_only = (_setting(ctx, "geniesim_commercial_only", "BP_GENIESIM_COMMERCIAL_ONLY", "0") or "0").lower() in ("1", "true", "yes")
    embedder = make_embedder(_setting(ctx, "geniesim_embedder", "BP_GENIESIM_EMBEDDER", "none"))
    export = build_export(scene, physics_file.objects, commercial_only=commercial_only, embedder=embedder)
    manifest_url = str(ctx.manifest_url)
    asset_root = Path(manifest_url).resolve().parent if "://" not in manifest_url else None
    object_usd = None
    if "://" not in str(ctx.out_url):  # the usd stage's object files, for their visual meshes
        object_usd = {oid: Path(ctx.out_url) / "usd" / path.removeprefix("usd/")
                      for oid, path in usd_object_paths([o.id for o in scene.objects]).items()}
    files = write_export(ctx.stage_dir(STAGE), scene, physics_file.objects, export, asset_root=asset_root,
                         object_usd=object_usd)
    tasks = export.task_config.tasks
    return StageResult(
        outputs=[f"{STAGE}/{f}" for f in files],
        summary={"objects": len(scene.objects), "edges": len(export.scene_graph["edges"]), "tasks": len(tasks),
                 "task_types": sorted({t.type for t in tasks}), "notes": export.notes[:20]},
        items_ok=len(tasks),
    )
