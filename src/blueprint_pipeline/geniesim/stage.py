"""The `geniesim` stage: reads the normalised scene and physics, writes `<out>/geniesim/`.

Objects with a stored mesh (simready/meshes.py) get it in the native bundle's Aligned.usd: the
meshes are loaded once here from the simready folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from blueprint_pipeline import storage
from blueprint_pipeline.config import Settings
from blueprint_pipeline.contract import (
    SCENE_NORMALIZED,
    SIMREADY_PHYSICS,
    USD_SCENE,
    StageContext,
    StageResult,
)
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.geniesim.embedders import make_embedder
from blueprint_pipeline.geniesim.export import build_export, write_export
from blueprint_pipeline.geniesim.semantics import usd_object_paths
from blueprint_pipeline.geniesim.tasks import TaskCaps
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.simready.io import load_physics
from blueprint_pipeline.simready.meshes import load_meshes

STAGE = "geniesim"


@dataclass(frozen=True)
class GeniesimConfig:
    """What the geniesim stage takes from the settings."""

    commercial_only: bool  # BP_GENIESIM_COMMERCIAL_ONLY
    embedder: str  # BP_GENIESIM_EMBEDDER
    caps: TaskCaps  # BP_TASK_CAP_*

    @classmethod
    def from_settings(cls, settings: Settings) -> GeniesimConfig:
        caps = TaskCaps(pick_place=settings.task_cap_pick_place, stack=settings.task_cap_stack,
                        place_in=settings.task_cap_place_in, push=settings.task_cap_push,
                        push_in=settings.task_cap_push_in,
                        open_close=settings.task_cap_open_close)
        return cls(commercial_only=settings.geniesim_commercial_only, embedder=settings.geniesim_embedder, caps=caps)


def run(ctx: StageContext) -> StageResult:
    cfg = GeniesimConfig.from_settings(ctx.settings)
    scene = load_scene(ctx.url(SCENE_NORMALIZED))
    physics_file = load_physics(ctx.url(SIMREADY_PHYSICS))
    if physics_file.scene_id != scene.header.scene_id:
        raise InvalidInputError(f"{SIMREADY_PHYSICS.rel} is for scene {physics_file.scene_id!r}, "
                                f"the normalised scene is {scene.header.scene_id!r}")
    if not storage.exists(ctx.url(USD_SCENE)):
        raise InvalidInputError(f"{USD_SCENE.rel} is missing: run the usd stage first")
    export = build_export(scene, physics_file.objects, commercial_only=cfg.commercial_only,
                          embedder=make_embedder(cfg.embedder), caps=cfg.caps)
    root = ctx.asset_root()
    asset_root = Path(root).resolve() if root and "://" not in root else None
    object_usd = None
    if "://" not in str(ctx.out_url):  # the usd stage's object files, for their visual meshes
        object_usd = {oid: Path(ctx.out_url) / USD_SCENE.stage / path.removeprefix(f"{USD_SCENE.stage}/")
                      for oid, path in usd_object_paths([o.id for o in scene.objects]).items()}
    meshes = load_meshes(ctx.stage_dir("simready"), physics_file)
    files = write_export(ctx.stage_dir(STAGE), scene, physics_file.objects, export, asset_root=asset_root,
                         object_usd=object_usd, meshes=meshes)
    tasks = export.task_config.tasks
    return StageResult(
        outputs=[f"{STAGE}/{f}" for f in files],
        summary={"objects": len(scene.objects), "edges": len(export.scene_graph["edges"]), "tasks": len(tasks),
                 "task_types": sorted({t.type for t in tasks}), "notes": export.notes[:20]},
        items_ok=len(tasks),
    )
