"""Whole runs for tests: a manifest through scene, simready, usd, geniesim and episodes, and the
episodes' results as written."""

from __future__ import annotations

import json
from pathlib import Path

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.sim.stage import EpisodesFailedError


def run_to_episodes(name: str, manifest: dict, root: Path, robot: str = "franka") -> Path:
    """Write `manifest` to root/<name>.json and run it into root/<name>/ with one worker. The
    episodes stage's success-rate gate is passed over: callers judge the episodes' results."""
    path = root / f"{name}.json"
    path.write_text(json.dumps(manifest))
    out = root / name
    ctx = StageContext(manifest_url=str(path), out_url=str(out), options=RunOptions.create(robot=robot, workers=1))
    for stage in ("scene", "simready", "usd", "geniesim"):
        run_pipeline(ctx, only=stage)
    try:
        run_pipeline(ctx, only="episodes")
    except EpisodesFailedError:
        pass
    return out


def episode_results(out: Path) -> list[dict]:
    """Every episode's result file under out/episodes/results, in index order."""
    return [json.loads(p.read_text()) for p in sorted((out / "episodes" / "results").glob("*.json"))]
