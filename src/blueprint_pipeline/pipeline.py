"""The pipeline: an ordered list of stages, read top to bottom as the data flow.

    manifest -> scene -> simready -> usd -> geniesim -> episodes -> dataset -> report

Each stage is a function `run(ctx) -> StageResult` that reads its inputs through `storage`,
writes its outputs atomically under `<out>/<stage>/`, and returns what it wrote. The runner
(`blueprint_pipeline.runner`) writes the success and failure markers, skips stages whose
`.complete.json` matches their current inputs, and applies --from / --only / --force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blueprint_pipeline import storage

MANIFEST_INPUT = "@manifest"


@dataclass(frozen=True)
class RunOptions:
    """User options that change what the stages produce (part of every stage's inputs)."""

    robot: str = "franka"
    episodes: int | None = None  # None: the episodes stage's documented default
    workers: int = 2
    render: bool = False
    seed: int = 0
    strict: bool = False
    keep_failed_episodes: bool = False
    executor: str = "local"


ProgressFn = Callable[[int, int | None, str], None]


def _no_progress(done: int, total: int | None, what: str) -> None:
    return None


@dataclass
class StageContext:
    manifest_url: str
    out_url: str
    options: RunOptions = field(default_factory=RunOptions)
    settings: Any = None
    progress: ProgressFn = _no_progress
    # Set by the runner for the stage it runs: the sha256 of the stage's fingerprint (its inputs'
    # hashes, the options it reads, the package version). A stage that resumes work items keys
    # them by it, so results computed from other inputs are never reused.
    input_digest: str = ""
    # --force: rerun the stage even if up to date, and its failed items even if recorded.
    force: bool = False

    def stage_dir(self, stage: str) -> str:
        return storage.join(self.out_url, stage)

    def path(self, stage: str, *parts: str) -> str:
        return storage.join(self.out_url, stage, *parts)


@dataclass
class StageResult:
    outputs: list[str] = field(default_factory=list)  # paths relative to <out>
    summary: dict[str, Any] = field(default_factory=dict)
    items_ok: int = 0
    items_failed: int = 0


StageFn = Callable[[StageContext], StageResult]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFn
    inputs: tuple[str, ...]  # MANIFEST_INPUT or paths relative to <out>
    min_success_rate: float = 0.5
    # RunOptions fields that change this stage's outputs (part of its fingerprint, so changing
    # one reruns it); None: every option but workers/executor (safe, but reruns more).
    options: tuple[str, ...] | None = None
    # Paths relative to <out> the stage always writes (what later stages read); the runner
    # fails the stage if one is missing. StageResult.outputs lists everything written.
    outputs: tuple[str, ...] = ()


def _scene(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.scene.stage import run

    return run(ctx)


def _dataset(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.dataset.stage import run

    return run(ctx)


def _report(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.report.stage import run

    return run(ctx)


def _simready(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.simready.stage import run

    return run(ctx)


def _usd(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.usd.stage import run

    return run(ctx)


def _episodes(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.sim.stage import run

    return run(ctx)


def _geniesim(ctx: StageContext) -> StageResult:
    from blueprint_pipeline.geniesim.stage import run

    return run(ctx)


STAGES: list[Stage] = [
    Stage("scene", _scene, inputs=(MANIFEST_INPUT,), outputs=("scene/normalized.jsonl",)),
    Stage("simready", _simready, inputs=("scene/normalized.jsonl",), outputs=("simready/physics.json",)),
    Stage("usd", _usd, inputs=("scene/normalized.jsonl", "simready/physics.json"), outputs=("usd/scene.usda",)),
    Stage("geniesim", _geniesim, inputs=("scene/normalized.jsonl", "simready/physics.json", "usd/scene.usda"),
          outputs=("geniesim/task_config.json",)),
    Stage("episodes", _episodes,
          inputs=("scene/normalized.jsonl", "simready/physics.json", "geniesim/task_config.json"),
          outputs=("episodes/summary.json",)),
    Stage("dataset", _dataset, inputs=("episodes/summary.json", "episodes/data"),
          outputs=("dataset/meta/info.json",)),
    Stage("report", _report,
          inputs=("scene/normalized.jsonl", "simready/physics.json", "geniesim/scene_graph.json",
                  "episodes/summary.json", "dataset/meta/info.json"),
          outputs=("report/report.html",)),
]

STAGE_NAMES: list[str] = [s.name for s in STAGES]


def stage_by_name(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)
