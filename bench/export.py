"""Benchmark of the geniesim export; prints a Markdown table measured in one run.

    .venv/bin/python bench/export.py            # 100, 1,000 and 10,000 objects
    .venv/bin/python bench/export.py --quick    # 100 and 1,000 objects, all-pairs on 2,000

Scenes come from `blueprint synth` manifests run through the real scene and simready stages
(not timed). Timed: the pipeline-level files (scene graph with relations, asset index, tasks with
robot placement, scene config, written with their hashes), the native bundle's per-object folders
and task files (separately), and relation inference with the grid index against the all-pairs
loop over the same objects (identical relations required).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from blueprint_pipeline.geniesim.export import build_export, write_export, write_native
from blueprint_pipeline.geniesim.native.check import check_bundle
from blueprint_pipeline.geniesim.relations import inferred_relations
from blueprint_pipeline.contract import StageContext
from blueprint_pipeline.pipeline import stage_by_name
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.scene.synth import write_synthetic_manifest
from blueprint_pipeline.simready.io import load_physics


def _inputs(n: int, root: str):
    manifest = os.path.join(root, "manifest.json")
    write_synthetic_manifest(manifest, n, seed=0)
    ctx = StageContext(manifest_url=manifest, out_url=root)
    stage_by_name("scene").run(ctx)
    stage_by_name("simready").run(ctx)
    scene = load_scene(os.path.join(root, "scene", "normalized.jsonl"))
    return scene, load_physics(os.path.join(root, "simready", "physics.json")).objects


def _best(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = (100, 1000) if args.quick else (100, 1000, 10000)
    rows = []
    scenes = {}
    for n in sizes:
        root = tempfile.mkdtemp(prefix=f"bench-export-{n}-")
        try:
            scene, physics = _inputs(n, root)
            scenes[n] = scene
            stage_url = os.path.join(root, "geniesim")

            def pipeline_files(scene=scene, physics=physics, stage_url=stage_url):
                export = build_export(scene, physics)
                write_export(stage_url, scene, physics, export, native=False)
                return export

            t_files, export = _best(pipeline_files, 3 if n < 10000 else 1)
            t_native, _ = _best(partial(write_native, stage_url, scene, physics, export.task_config, None), 1)
            t_check, counts = _best(partial(check_bundle, os.path.join(stage_url, "native")), 1)
            rows.append((n, len(export.scene_graph["edges"]), len(export.task_config.tasks), t_files,
                         export.seconds, t_native, t_check, counts))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    print("| objects | edges | tasks | pipeline-level files (s) | of which relations / tasks (s) "
          "| native bundle (s) | native objects/s | bundle check (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, edges, tasks, t_files, sec, t_native, t_check, counts in rows:
        print(f"| {n:,} | {edges:,} | {tasks} | {t_files:.3f} | {sec['relations']:.3f} / {sec['tasks']:.3f} "
              f"| {t_native:.2f} | {counts['objects'] / t_native:,.0f} | {t_check:.2f} |")

    n_pairs = 2000 if args.quick else 10000
    scene = scenes.get(n_pairs)
    if scene is None:
        root = tempfile.mkdtemp(prefix="bench-export-pairs-")
        scene, _ = _inputs(n_pairs, root)
        shutil.rmtree(root, ignore_errors=True)
    t_grid, grid = _best(lambda: inferred_relations(scene.objects), 3)
    t_all, allp = _best(lambda: inferred_relations(scene.objects, use_index=False), 1)
    print()
    print("| relation inference | objects | relations | seconds | speed-up |")
    print("|---|---:|---:|---:|---:|")
    print(f"| all-pairs loop (reference) | {n_pairs:,} | {len(allp):,} | {t_all:.2f} | 1x |")
    print(f"| uniform grid index | {n_pairs:,} | {len(grid):,} | {t_grid:.3f} | {t_all / t_grid:.0f}x |")
    print(f"\nidentical relations: {grid == allp}")
    if grid != allp:
        sys.exit(1)


if __name__ == "__main__":
    main()
