"""Benchmark of object meshes from asset files: a 100-object meshed scene through the stages that
read meshes (scene, simready, usd, geniesim), first with an empty decomposition cache, then again
into a new output folder with the cache warm, side by side in one run.

    python bench/meshes.py [--objects 100]

The scene: tables in a row, each holding mugs, bowls, bottles and boxes from
`testing/mesh_assets.py` (four mesh files, each object at its own size and yaw), so the first run
decomposes each file once and fits it to every object; wall-clock and CPU seconds of this process
(CoACD's threads included) are printed per stage and in total, and the rerun's ratio to the first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import psutil

from blueprint_pipeline.config import Settings
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.testing.mesh_assets import MESHES, manifest_dimensions, manifest_object, write_assets

STAGES = ("scene", "simready", "usd", "geniesim")
KINDS = ("mug", "bowl", "bottle", "box")
PER_TABLE = 10
TABLE = (1.6, 0.8, 0.75)


def scene_manifest(n: int, folder: Path) -> Path:
    write_assets(folder / "assets")
    dims = {k: manifest_dimensions(MESHES[k]()) for k in KINDS}
    objects = []
    tables = math.ceil(n / PER_TABLE)
    for t in range(tables):
        tx = 1.0 + t * (TABLE[0] + 0.4)
        objects.append(manifest_object(f"table_{t}", "static", f"table {t}", "table", "",
                                       (tx, 1.0, TABLE[2] / 2), dict(zip(("width", "depth", "height"), TABLE))))
        for j in range(min(PER_TABLE, n - t * PER_TABLE)):
            i = t * PER_TABLE + j
            kind = KINDS[i % len(KINDS)]
            k = 0.9 + 0.2 * ((i * 37) % 11) / 10  # each object at its own size: 0.9-1.1x
            size = {a: round(v * k, 4) for a, v in dims[kind].items()}
            centre = (tx - 0.6 + 0.3 * (j % 5), 0.82 + 0.36 * (j // 5), TABLE[2] + size["height"] / 2)
            objects.append(manifest_object(f"{kind}_{i}", "manipulable_object", f"{kind} {i}", kind, "", centre, size,
                                           yaw_deg=(i * 53) % 360, asset=f"assets/{kind}.glb"))
    manifest = {"version": "1.0.0", "scene_id": "meshed_bench",
                "scene": {"coordinate_frame": "z_up", "meters_per_unit": 1.0, "environment_type": "kitchen"},
                "objects": objects}
    path = folder / "meshed_bench.json"
    path.write_text(json.dumps(manifest))
    return path


def timed_run(manifest: Path, out: Path, cache: str) -> dict[str, tuple[float, float]]:
    ctx = StageContext(manifest_url=str(manifest), out_url=str(out), options=RunOptions.create(workers=2),
                       settings=Settings(mesh_cache_dir=cache))
    proc = psutil.Process()
    times = {}
    for stage in STAGES:
        w0, c0 = time.perf_counter(), sum(proc.cpu_times()[:2])
        run_pipeline(ctx, only=stage)
        times[stage] = (time.perf_counter() - w0, sum(proc.cpu_times()[:2]) - c0)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bp-meshes-") as tmp:
        root = Path(tmp)
        manifest = scene_manifest(args.objects, root)
        cache = str(root / "cache")
        cold = timed_run(manifest, root / "cold", cache)
        warm = timed_run(manifest, root / "warm", cache)
        physics = json.loads((root / "warm" / "simready" / "physics.json").read_text())["objects"]
        meshed = sum(1 for p in physics.values() if p.get("mesh"))
    print(f"scene: {args.objects} meshed objects on {math.ceil(args.objects / PER_TABLE)} tables, "
          f"{len(KINDS)} mesh files; {meshed} objects got their mesh; {os.cpu_count()} cores")
    print("| stage | first run: wall s | CPU s | rerun, cache warm: wall s | CPU s |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        print(f"| {stage} | {cold[stage][0]:.1f} | {cold[stage][1]:.1f} | {warm[stage][0]:.1f} | {warm[stage][1]:.1f} |")
    tc, tw = sum(v[0] for v in cold.values()), sum(v[0] for v in warm.values())
    print(f"| total | {tc:.1f} | {sum(v[1] for v in cold.values()):.1f} | {tw:.1f} | {sum(v[1] for v in warm.values()):.1f} |")
    print(f"rerun / first run (wall): {tw / tc:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
