"""Runs the pipeline's stages in order (minimal first version; markers and skipping come with
the resilience issue)."""

from __future__ import annotations

from dataclasses import dataclass

from blueprint_pipeline.pipeline import STAGES, Stage, StageContext, StageResult


@dataclass
class StageOutcome:
    stage: str
    status: str  # "ok" | "skipped" | "failed"
    result: StageResult | None
    seconds: float


def select_stages(from_stage: str | None = None, only: str | None = None) -> list[Stage]:
    names = [s.name for s in STAGES]
    for n in (from_stage, only):
        if n is not None and n not in names:
            from blueprint_pipeline.errors import InvalidInputError

            raise InvalidInputError(f"unknown stage {n!r}; stages are: {', '.join(names)}")
    if only:
        return [s for s in STAGES if s.name == only]
    if from_stage:
        return STAGES[names.index(from_stage):]
    return list(STAGES)


def run_pipeline(ctx: StageContext, from_stage: str | None = None, only: str | None = None,
                 force: bool = False) -> list[StageOutcome]:
    import time

    outcomes = []
    for stage in select_stages(from_stage, only):
        t0 = time.perf_counter()
        result = stage.run(ctx)
        outcomes.append(StageOutcome(stage.name, "ok", result, time.perf_counter() - t0))
    return outcomes
