"""Stage `simready`: physics for every object -> `simready/physics.json`."""

from __future__ import annotations

from typing import Any

from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.contract import SCENE_NORMALIZED, SIMREADY_PHYSICS, StageContext, StageResult
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.scene.records import Scene
from blueprint_pipeline.simready.bounds import CheckedValues
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.io import write_physics
from blueprint_pipeline.simready.meshes import prepare_meshes
from blueprint_pipeline.simready.records import ObjectPhysics, PhysicsFile
from blueprint_pipeline.simready.table import TableEstimator, manifest_values

MAX_PROBLEMS = 20


def check_manifest_physics(scene: Scene, strict: bool) -> list[CheckedValues]:
    """Check every object's manifest physics; raise once with every problem found."""
    checked = [manifest_values(obj, i, strict) for i, obj in enumerate(scene.objects)]
    problems: list[Problem] = [p for c in checked for p in c.problems]
    if problems:
        raise InvalidInputError(
            f"invalid physics values in the manifest ({len(problems)} problems)",
            problems[:MAX_PROBLEMS], max(0, len(problems) - MAX_PROBLEMS),
        )
    return checked


def estimate_scene(scene: Scene, cfg: SimreadyConfig, asset_root: str | None = None,
                   progress: Any = None, settings: Any = None, estimator: Any = None,
                   journal_url: str | None = None, simready_url: str | None = None) -> tuple[PhysicsFile, dict[str, Any]]:
    """Physics for every object of `scene` with the configured estimator; with `simready_url`,
    free objects with mesh assets get their meshes (simready/meshes.py, written there)."""
    checked = check_manifest_physics(scene, cfg.strict)
    mesh_props, fallbacks, mesh_summary = ({}, {}, {}) if simready_url is None else \
        prepare_meshes(scene, asset_root, simready_url, cfg.meshes, progress)
    meshes = [mesh_props.get(o.id) for o in scene.objects]
    table = TableEstimator(cfg)
    summary: dict[str, Any] = {"estimator": cfg.estimator}
    if cfg.estimator == "gemini":
        from blueprint_pipeline.simready.gemini import GeminiEstimator

        gemini = estimator or GeminiEstimator(cfg, settings=settings)
        try:
            results, llm_summary = gemini.estimate_all(scene.objects, checked, meshes, progress, journal_url)
        finally:
            if estimator is None:
                gemini.close()
        summary.update(llm_summary)
    else:
        results = [table.estimate(o, c, m) for o, c, m in zip(scene.objects, checked, meshes)]
    objects: dict[str, ObjectPhysics] = {
        p.object_id: p.model_copy(update={"notes": (*p.notes, *fallbacks[p.object_id])}) if p.object_id in fallbacks else p
        for p in results}
    summary.update(mesh_summary)
    summary["objects"] = len(objects)
    summary["total_mass_kg"] = round(sum(p.mass_kg for p in objects.values()), 3)
    summary["graspable"] = sum(p.graspable for p in objects.values())
    summary["clamped_values"] = sum(1 for p in objects.values() for n in p.notes if "clamped" in n)
    return PhysicsFile(scene_id=scene.header.scene_id, estimator=cfg.estimator, objects=objects), summary


def run(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.resilience.journal import stage_journal_url

    scene = load_scene(ctx.url(SCENE_NORMALIZED))
    cfg = SimreadyConfig.from_settings(ctx.settings, strict=ctx.options.strict)
    physics, summary = estimate_scene(scene, cfg, ctx.asset_root(), ctx.progress, ctx.settings,
                                      journal_url=stage_journal_url(ctx.out_url, "simready", "gemini"),
                                      simready_url=ctx.stage_dir("simready"))
    write_physics(ctx.url(SIMREADY_PHYSICS), physics)
    mesh_files = sorted({f"simready/{p.mesh.file}" for p in physics.objects.values() if p.mesh is not None})
    return StageResult(outputs=[SIMREADY_PHYSICS.rel, *mesh_files], summary=summary,
                       items_ok=len(physics.objects), items_failed=0)
