"""The evaluation harness on the scene corpus: the scripted planner as the policy in the
Gymnasium environment (evaluate/env.py) on held-out starts, side by side with the episodes
stage's own success on the same tasks (its training-range starts).

    python bench/eval_harness.py [--robot franka] [--episodes 3] [--only NAME ...] [--json OUT]

Per scene: the pick_place, stack and open_close tasks the episodes stage simulated (not those its probe found
infeasible), the stage's successes on them, and the harness's successes on `--episodes` held-out
starts of each. The harness is valid when it succeeds about as often as the stage (>= 95% is
the issue's bar); a gap names a difference between the environment and the stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.errors import BlueprintError
from blueprint_pipeline.evaluate.policies import ScriptedPolicy
from blueprint_pipeline.evaluate.run import evaluate
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.testing.corpus import corpus


def run_scene(name: str, manifest: dict, root: Path, robot: str, episodes: int) -> dict:
    path = root / f"{name}.json"
    path.write_text(json.dumps(manifest))
    out = root / name
    ctx = StageContext(manifest_url=str(path), out_url=str(out), options=RunOptions(robot=robot, workers=2))
    row: dict = {"scene": name}
    try:
        for stage in ("scene", "simready", "usd", "geniesim", "episodes"):
            run_pipeline(ctx, only=stage)
    except BlueprintError as exc:
        row["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        return row
    summary = json.loads((out / "episodes" / "summary.json").read_text())
    config = json.loads((out / "geniesim" / "task_config.json").read_text())
    kinds = {t["task_id"]: t["type"] for t in config["tasks"]}
    tasks = [t for t in summary.get("per_task", {}) if kinds.get(t) in ("pick_place", "stack", "open_close")]
    row["tasks"] = len(tasks)
    row["stage_ok"] = sum(summary["per_task"][t]["succeeded"] for t in tasks)
    row["stage_episodes"] = sum(summary["per_task"][t]["episodes"] for t in tasks)
    if not tasks:
        return row
    t0 = time.perf_counter()
    result = evaluate(str(out), ScriptedPolicy(), robot=robot, episodes=episodes, tasks=tasks)
    row["eval_s"] = round(time.perf_counter() - t0, 1)
    row["eval_ok"], row["eval_episodes"] = result["successes"], result["episodes"]
    row["eval_failures"] = dict(Counter(r["failure_reason"] for r in result["per_episode"] if not r["success"]))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robot", default="franka")
    ap.add_argument("--episodes", type=int, default=3, help="held-out episodes per task")
    ap.add_argument("--only", nargs="*", help="corpus scene names")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, manifest in corpus():
            if args.only and name not in args.only:
                continue
            row = run_scene(name, manifest, Path(tmp), args.robot, args.episodes)
            rows.append(row)
            print(f"{name:26s} tasks {row.get('tasks', 0):2d}  stage {row.get('stage_ok', 0):3d}/"
                  f"{row.get('stage_episodes', 0):3d}  harness {row.get('eval_ok', 0):3d}/{row.get('eval_episodes', 0):3d}"
                  f"  {row.get('eval_failures') or ''} {row.get('failed') or ''}", flush=True)
    s_ok, s_n = sum(r.get("stage_ok", 0) for r in rows), sum(r.get("stage_episodes", 0) for r in rows)
    e_ok, e_n = sum(r.get("eval_ok", 0) for r in rows), sum(r.get("eval_episodes", 0) for r in rows)
    print(f"scenes {len(rows)}; tasks {sum(r.get('tasks', 0) for r in rows)}; robot {args.robot}")
    print(f"episodes stage (its own starts): {s_ok}/{s_n} ({100 * s_ok / max(s_n, 1):.1f}%)")
    print(f"harness, scripted policy, held-out starts: {e_ok}/{e_n} ({100 * e_ok / max(e_n, 1):.1f}%)")
    print(f"failures: {dict(sum((Counter(r.get('eval_failures', {})) for r in rows), Counter()))}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
