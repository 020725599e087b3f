"""Whole runs for tests: a manifest through scene, simready, usd, geniesim and episodes, and the
episodes' results as written."""

from __future__ import annotations

import json
from pathlib import Path

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.sim.stage import EpisodesFailedError


def run_to_geniesim(name: str, manifest: dict, root: Path, robot: str = "franka") -> StageContext:
    """Write `manifest` to root/<name>.json and run scene, simready, usd and geniesim into
    root/<name>/ (one worker); the run's context."""
    path = root / f"{name}.json"
    path.write_text(json.dumps(manifest))
    ctx = StageContext(manifest_url=str(path), out_url=str(root / name), options=RunOptions.create(robot=robot, workers=1))
    for stage in ("scene", "simready", "usd", "geniesim"):
        run_pipeline(ctx, only=stage)
    return ctx


def run_to_episodes(name: str, manifest: dict, root: Path, robot: str = "franka") -> Path:
    """`run_to_geniesim`, then the episodes stage. The episodes stage's success-rate gate is
    passed over: callers judge the episodes' results."""
    ctx = run_to_geniesim(name, manifest, root, robot)
    out = root / name
    try:
        run_pipeline(ctx, only="episodes")
    except EpisodesFailedError:
        pass
    return out


def episode_results(out: Path) -> list[dict]:
    """Every episode's result file under out/episodes/results, in index order."""
    return [json.loads(p.read_text()) for p in sorted((out / "episodes" / "results").glob("*.json"))]
