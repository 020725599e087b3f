"""The pipeline: the ordered list of stages (the registry), read top to bottom as the data flow.

    manifest -> scene -> simready -> usd -> geniesim -> episodes -> dataset -> report

Each stage is a function `run(ctx) -> StageResult` (`blueprint_pipeline.contract`) that reads its
inputs through `storage`, writes its outputs atomically under `<out>/<stage>/`, and returns what
it wrote. The runner (`blueprint_pipeline.runner`) writes the success and failure markers, skips
stages whose `.complete.json` matches their current inputs, and applies --from / --only / --force.

This module imports the stages (when one runs, so a CLI call loads only what it uses); stages
import the contract, never this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from blueprint_pipeline import contract as c
from blueprint_pipeline.contract import MANIFEST_INPUT, StageContext, StageResult

StageFn = Callable[[StageContext], StageResult]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFn
    inputs: tuple[str, ...]  # MANIFEST_INPUT or paths relative to <out> (Artifact.rel)
    # RunOptions fields that change this stage's outputs (part of its fingerprint, so changing
    # one reruns it); None: every option but workers/executor (safe, but reruns more).
    options: tuple[str, ...] | None = None
    # Paths relative to <out> the stage always writes (what later stages read); the runner
    # fails the stage if one is missing. StageResult.outputs lists everything written.
    outputs: tuple[str, ...] = ()
    # config.Settings fields that change this stage's outputs (their values are part of its
    # fingerprint, so `BP_SIMREADY_DR_MASS_REL=0.3` on a rerun reruns simready). Every setting is
    # either named by a stage here or in runner.SETTINGS_NOT_IN_OUTPUTS (tests/test_contract.py).
    settings: tuple[str, ...] = ()


def _stage_module(module: str) -> StageFn:
    """`module.run`, imported on the first call."""

    def run(ctx: StageContext) -> StageResult:
        return importlib.import_module(module).run(ctx)

    run.__qualname__ = f"{module}.run"
    return run


def _rel(*artifacts: c.Artifact | str) -> tuple[str, ...]:
    return tuple(a if isinstance(a, str) else a.rel for a in artifacts)


STAGES: list[Stage] = [
    Stage("scene", _stage_module("blueprint_pipeline.scene.stage"), inputs=(MANIFEST_INPUT,),
          options=("strict",), outputs=_rel(c.SCENE_NORMALIZED)),
    Stage("simready", _stage_module("blueprint_pipeline.simready.stage"), inputs=(*_rel(c.SCENE_NORMALIZED), c.ASSETS_INPUT),
          options=("strict",), outputs=_rel(c.SIMREADY_PHYSICS),
          settings=("simready_estimator", "simready_gemini_model", "simready_gemini_base_url", "simready_dr_mass_rel",
                    "simready_dr_friction_rel", "simready_dr_restitution_rel", "simready_dr_com_noise_rel",
                    "mesh_max_hulls", "mesh_visual_triangles")),
    Stage("usd", _stage_module("blueprint_pipeline.usd.stage"),
          inputs=(*_rel(c.SCENE_NORMALIZED, c.SIMREADY_PHYSICS), c.ASSETS_INPUT), options=(), outputs=_rel(c.USD_SCENE)),
    Stage("geniesim", _stage_module("blueprint_pipeline.geniesim.stage"),
          inputs=_rel(c.SCENE_NORMALIZED, c.SIMREADY_PHYSICS, c.USD_SCENE), options=(),
          outputs=_rel(c.GENIESIM_TASK_CONFIG, c.GENIESIM_SCENE_GRAPH),
          settings=("geniesim_commercial_only", "geniesim_embedder", "task_cap_pick_place", "task_cap_stack",
                    "task_cap_place_in", "task_cap_push", "task_cap_push_in", "task_cap_open_close")),
    Stage("episodes", _stage_module("blueprint_pipeline.sim.stage"),
          inputs=(*_rel(c.SCENE_NORMALIZED, c.SIMREADY_PHYSICS, c.GENIESIM_TASK_CONFIG), c.ROBOT_MODEL_INPUT),
          options=("robot", "episodes", "render", "seed", "keep_failed_episodes", "image_size",
                   "visual_randomization", "shadows"),
          outputs=_rel(c.EPISODES_SUMMARY),
          settings=("instruction_phrasings", "instruction_gemini_model", "instruction_phrasings_per_family",
                    "robot_meshes")),
    Stage("dataset", _stage_module("blueprint_pipeline.dataset.stage"),
          inputs=_rel(c.EPISODES_SUMMARY, c.EPISODES_DATA), options=("seed", "keep_failed_episodes"),
          outputs=_rel(c.DATASET_INFO), settings=("video_codec", "data_files_size_in_mb", "video_files_size_in_mb")),
    Stage("report", _stage_module("blueprint_pipeline.report.stage"),
          inputs=_rel(c.SCENE_NORMALIZED, c.SIMREADY_PHYSICS, c.GENIESIM_SCENE_GRAPH, c.EPISODES_SUMMARY,
                      c.DATASET_INFO),
          options=("keep_failed_episodes",), outputs=_rel(c.REPORT_HTML)),
]

STAGE_NAMES: list[str] = [s.name for s in STAGES]
if tuple(STAGE_NAMES) != c.STAGE_NAMES:  # the contract's order is the registry's
    raise RuntimeError(f"pipeline.STAGES {STAGE_NAMES} differ from contract.STAGE_NAMES {c.STAGE_NAMES}")


def stage_by_name(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)


def data_flow_markdown() -> str:
    """The data flow as the README shows it: a line per stage with what it reads and writes
    (generated from STAGES, so the picture cannot drift from the registry; a test compares)."""
    lines = ["    manifest", "       |"]
    for s in STAGES:
        named = {MANIFEST_INPUT: "the manifest", c.ASSETS_INPUT: "the asset files",
                 c.ROBOT_MODEL_INPUT: "the robot meshes (rendering)"}
        reads = ", ".join(named.get(i, i) for i in s.inputs)
        lines.append(f"    {s.name:<9} reads {reads}")
        lines.append(f"    {'':<9} writes {', '.join(s.outputs) or '-'}")
    return "\n".join(lines)
