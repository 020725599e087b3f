"""The scene corpus bench: the whole pipeline (no cameras) on every scene of
`blueprint_pipeline.testing.corpus` and on the meshed kitchen (objects with mesh assets,
`testing/mesh_assets.py`), and the figures the generalisation issue asks for.

    python bench/corpus.py [--robot franka] [--episodes-per-task 2] [--only NAME ...] [--json OUT] [--keep DIR]

Per scene: the run's exit (ok, or the stage that failed and why), tasks generated per family,
candidate objects skipped with their reasons, tasks the episodes stage's feasibility probe found
no collision-free plan for (with the planner's reason), episodes, successes, failure reasons, and
task coverage = objects with at least one attempted task (simulated: generated and not found
infeasible) / objects that fit the gripper (free, graspable, at most the stroke less its margin
across, light enough). Totals: episodes, success rate and per task family (geniesim.tasks.task_family), successful
episodes per CPU minute of the episodes stage (worker processes included), coverage.

The corpus is not tuned on: a change that helps examples/ and hurts these figures is a regression.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

from blueprint_pipeline.errors import BlueprintError
from blueprint_pipeline.geniesim.tasks import MAX_MASS_KG, STROKE_M, GRIP_MARGIN_M, grasp_width_m
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.simready.io import load_physics
from blueprint_pipeline.testing.corpus import corpus
from blueprint_pipeline.testing.mesh_assets import write_meshed_kitchen


def _cpu_s() -> float:
    """CPU seconds of this process and its descendants: the live ones, and those they reaped
    (episode workers are children of the forkserver, which is ours)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:4])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:4])
        except psutil.Error:
            pass
    return total


def fits_gripper(obj, ph) -> bool:
    return (obj.sim_role.is_dynamic and ph is not None and ph.graspable and ph.mass_kg <= MAX_MASS_KG
            and grasp_width_m(obj, ph) <= STROKE_M - GRIP_MARGIN_M)


def run_scene(name: str, manifest: dict, root: Path, robot: str, per_task: int | None) -> dict:
    path = root / f"{name}.json"
    path.write_text(json.dumps(manifest))
    out = root / name
    row: dict = {"scene": name, "objects": len(manifest["objects"])}
    opts = RunOptions(robot=robot, episodes=None, workers=2)
    ctx = StageContext(manifest_url=str(path), out_url=str(out), options=opts)
    failed = None
    t0 = time.perf_counter()
    cpu0 = _cpu_s()
    episodes_cpu = 0.0
    try:
        for stage in ("scene", "simready", "usd", "geniesim"):
            run_pipeline(ctx, only=stage)
        if per_task is not None:
            config = json.loads((out / "geniesim" / "task_config.json").read_text())
            ctx.options = RunOptions(robot=robot, episodes=per_task * len(config["tasks"]), workers=2)
        c = _cpu_s()
        try:
            run_pipeline(ctx, only="episodes")
        finally:
            episodes_cpu = _cpu_s() - c
        for stage in ("dataset",):
            run_pipeline(ctx, only=stage)
    except BlueprintError as exc:
        failed = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    row["cpu_s"] = round(_cpu_s() - cpu0, 1)
    row["episodes_cpu_s"] = round(episodes_cpu, 1)
    row["failed"] = failed
    config_path = out / "geniesim" / "task_config.json"
    if config_path.exists():
        config = json.loads(config_path.read_text())
        scene = load_scene(str(out / "scene" / "normalized.jsonl"))
        physics = load_physics(str(out / "simready" / "physics.json")).objects
        tasks = config["tasks"]
        row["tasks"] = dict(Counter(t["type"] for t in tasks))
        targets = {t["target_object_id"] for t in tasks}
        fit = [o.id for o in scene.objects if fits_gripper(o, physics.get(o.id))]
        row["fit"] = len(fit)
        row["fit_with_task"] = sum(1 for o in fit if o in targets)
        articulated = [o.id for o in scene.objects if o.articulation is not None]
        row["articulated"] = len(articulated)
        row["articulated_with_task"] = sum(1 for o in articulated if o in targets)
        row["skipped"] = dict(Counter(s["reason"].split(" (")[0].split(":")[0] for s in config.get("skipped", [])))
    summary_path = out / "episodes" / "summary.json"
    if summary_path.exists() and (failed is None or "episodes" in failed or "Episodes" in failed):
        s = json.loads(summary_path.read_text())
        row.update(episodes=s["episodes"], succeeded=s["succeeded"], failure_reasons=s["failure_reasons"])
        infeasible = s.get("tasks_infeasible", [])
        row["infeasible"] = dict(Counter(i["reason"].split(":")[0] for i in infeasible))
        if config_path.exists():  # coverage counts the objects with an attempted task only
            attempted = {t["target_object_id"] for t in tasks if t["task_id"] in s.get("per_task", {})}
            row["fit_attempted"] = sum(1 for o in fit if o in attempted)
            row["articulated_attempted"] = sum(1 for o in articulated if o in attempted)
            row["families"] = {f: [v["succeeded"], v["episodes"]] for f, v in s.get("per_family", {}).items()}
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robot", default="franka")
    ap.add_argument("--episodes-per-task", type=int, default=None,
                    help="episodes per task (default: the stage's default count)")
    ap.add_argument("--only", nargs="*", default=None, help="scene names to run")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    ap.add_argument("--keep", default=None, help="write the runs' outputs under this folder and keep them")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bp-corpus-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        # the meshed kitchen: its objects' meshes (testing/mesh_assets.py) under root/assets/
        meshed = json.loads(Path(write_meshed_kitchen(str(root))).read_text())
        scenes = [(n, m) for n, m in [*corpus(), ("meshed_kitchen", meshed)] if not args.only or n in args.only]
        for name, manifest in scenes:
            row = run_scene(name, manifest, root, args.robot, args.episodes_per_task)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    header = ("| scene | run | tasks | fit: with task / attempted | doors/drawers: with task / attempted "
              "| episodes ok | failures | infeasible (reason: n) | skipped (reason: n) |")
    print(header)
    print("|" + "---|" * 9)
    for r in rows:
        tasks = ", ".join(f"{k} {v}" for k, v in sorted(r.get("tasks", {}).items())) or "-"
        ep = f"{r.get('succeeded', 0)}/{r.get('episodes', 0)}" if "episodes" in r else "-"
        fails = ", ".join(f"{k} {v}" for k, v in sorted(r.get("failure_reasons", {}).items())) or "-"
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(r.get("skipped", {}).items())) or "-"
        infeasible = ", ".join(f"{k}: {v}" for k, v in sorted(r.get("infeasible", {}).items())) or "-"
        run = "ok" if not r["failed"] else r["failed"][:70]
        print(f"| {r['scene']} | {run} | {tasks} | {r.get('fit_with_task', 0)} / {r.get('fit_attempted', 0)} of "
              f"{r.get('fit', 0)} | {r.get('articulated_with_task', 0)} / {r.get('articulated_attempted', 0)} of "
              f"{r.get('articulated', 0)} | {ep} | {fails} | {infeasible} | {skipped} |")
    eps = sum(r.get("episodes", 0) for r in rows)
    ok = sum(r.get("succeeded", 0) for r in rows)
    fit = sum(r.get("fit", 0) for r in rows)
    fit_task = sum(r.get("fit_with_task", 0) for r in rows)
    fit_att = sum(r.get("fit_attempted", 0) for r in rows)
    art = sum(r.get("articulated", 0) for r in rows)
    art_task = sum(r.get("articulated_with_task", 0) for r in rows)
    art_att = sum(r.get("articulated_attempted", 0) for r in rows)
    cpu = sum(r.get("episodes_cpu_s", 0.0) for r in rows)
    print()
    print(f"scenes: {len(rows)}, runs ok: {sum(not r['failed'] for r in rows)}; robot {args.robot}")
    print(f"episodes: {ok}/{eps} succeeded ({100 * ok / max(eps, 1):.1f}%); scenes at >= 95%: "
          f"{sum(1 for r in rows if r.get('episodes') and r['succeeded'] / r['episodes'] >= 0.95)}")
    print(f"coverage: of {fit} objects that fit the gripper, {fit_task} have a task ({100 * fit_task / max(fit, 1):.0f}%), "
          f"{fit_att} an attempted one, simulated ({100 * fit_att / max(fit, 1):.0f}%); drawers and doors: "
          f"{art_task}/{art} with a task, {art_att} attempted")
    families: dict[str, list[int]] = {}
    for r in rows:
        for name, (ok_f, n_f) in r.get("families", {}).items():
            families.setdefault(name, [0, 0])
            families[name][0] += ok_f
            families[name][1] += n_f
    print("per family: " + ", ".join(f"{k} {v[0]}/{v[1]} ({100 * v[0] / max(v[1], 1):.0f}%)"
                                     for k, v in sorted(families.items())))
    print(f"successful episodes per CPU minute (episodes stage, workers included): {60 * ok / max(cpu, 1e-9):.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
