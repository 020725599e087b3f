"""The stage contract: what every stage receives, returns and reads or writes by name.

    StageContext   where the run reads and writes, its options, its typed settings
    StageResult    what a stage wrote and how many of its items succeeded
    RunOptions     user options that change what the stages produce (`RunOptions.create` validates)
    Artifact       a file or folder one stage writes and later stages read, named once here

Stage modules import this module and never the registry (`pipeline.py`), which imports them:
arrows point one way. A path such as "scene/normalized.jsonl" is spelled only here.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.config import Settings, get_settings
from blueprint_pipeline.errors import InvalidInputError

# The stages in run order; `pipeline.STAGES` registers one function per name, in this order.
STAGE_NAMES: tuple[str, ...] = ("scene", "simready", "usd", "geniesim", "episodes", "dataset", "report")

MANIFEST_INPUT = "@manifest"  # a Stage input naming the run's manifest rather than an artifact
ASSETS_INPUT = "@assets"  # a Stage input naming the asset files the normalised scene's objects name
# a Stage input naming what a run's renders draw the robot with (robots/visuals.rendered_model):
# installing the robot-meshes extra changes the images, so the stage runs again
ROBOT_MODEL_INPUT = "@robot-model"


@dataclass(frozen=True)
class Artifact:
    """A file or folder `name` (slash-separated) under `<out>/<stage>/`."""

    stage: str
    name: str

    @property
    def rel(self) -> str:
        """The path relative to `<out>`, as stage inputs, outputs and markers spell it."""
        return f"{self.stage}/{self.name}"

    def url(self, out_url: str) -> str:
        return storage.join(out_url, self.stage, *self.name.split("/"))

    def __str__(self) -> str:
        return self.rel


# scene: the normalised scene, a SceneHeader line then one SceneObject per line (scene.io reads it)
SCENE_NORMALIZED = Artifact("scene", "normalized.jsonl")
# simready: physics per object (simready.io reads it); the JSON Lines spelling is also accepted
SIMREADY_PHYSICS = Artifact("simready", "physics.json")
SIMREADY_PHYSICS_LINES = Artifact("simready", "physics.jsonl")
# usd: the scene and one file per object
USD_SCENE = Artifact("usd", "scene.usda")
USD_OBJECTS = Artifact("usd", "objects")
# geniesim: the export Genie Sim reads, and the task list the episodes stage simulates
GENIESIM_TASK_CONFIG = Artifact("geniesim", "task_config.json")
GENIESIM_SCENE_GRAPH = Artifact("geniesim", "scene_graph.json")
GENIESIM_ASSET_INDEX = Artifact("geniesim", "asset_index.json")
GENIESIM_SCENE_CONFIG = Artifact("geniesim", "scene_config.yaml")
# episodes: one .npz per kept episode, one result per simulated episode, the summaries
EPISODES_DATA = Artifact("episodes", "data")
EPISODES_RESULTS = Artifact("episodes", "results")
EPISODES_SUMMARY = Artifact("episodes", "summary.json")
EPISODES_SCENES = Artifact("episodes", "scenes")  # <task_id>.xml: each simulated task's MuJoCo scene
EPISODES_CERTIFICATE = Artifact("episodes", "quality_certificate.json")
EPISODES_PHRASINGS = Artifact("episodes", "phrasings.json")  # instruction phrasings an LLM wrote (sim/phrasings.py)
# eval (`blueprint eval`, not a stage): a policy's results on held-out starts
EVAL_SUMMARY = Artifact("eval", "summary.json")
# dataset: LeRobot v3.0; its metadata file is written last and marks it finished
DATASET_INFO = Artifact("dataset", "meta/info.json")
# report
REPORT_HTML = Artifact("report", "report.html")
REPORT_CERTIFICATE = Artifact("report", "quality_certificate.json")

# Seeds: one range everywhere (CLI, service, batch), the range numpy's seeding takes as one word.
SEED_MIN = 0
SEED_MAX = 2**32 - 1
IMAGE_SIZES = (128, 224, 256)  # rendered camera resolutions (square, pixels); 128 is the default
EXECUTORS = ("local", "ray")  # where per-item tasks run (resilience.executors.open_pool)


def check_executor(executor: str) -> str:
    """`executor` if it is one of EXECUTORS; InvalidInputError naming --executor otherwise."""
    if executor not in EXECUTORS:
        raise InvalidInputError(f"--executor: unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    return executor


# A run's episode indices lie below this; evaluation starts lie above it (evaluate/env.py)
MAX_EPISODES = 100_000


@dataclass(frozen=True)
class RunOptions:
    """User options that change what the stages produce (part of the stages' fingerprints).
    Build them with `RunOptions.create`, which checks them; the fields' defaults are valid."""

    robot: str = "franka"
    episodes: int | None = None  # None: the episodes stage's documented default
    workers: int = 2
    render: bool = False
    seed: int = 0
    strict: bool = False
    keep_failed_episodes: bool = False
    executor: str = "local"
    image_size: int = 128  # rendered cameras' width and height, one of IMAGE_SIZES
    visual_randomization: bool = True  # rendering: each episode's drawn look (sim/appearance.py)
    shadows: bool = False  # rendering: shadows from every light (CPU cost: docs/cameras.md)

    @classmethod
    def create(cls, *, robot: str = "franka", episodes: int | None = None, workers: int | None = None,
               render: bool = False, seed: int = 0, strict: bool = False, keep_failed_episodes: bool = False,
               executor: str = "local", settings: Settings | None = None, prefix: str = "--",
               image_size: int = 128, visual_randomization: bool = True, shadows: bool = False) -> RunOptions:
        """Checked options; InvalidInputError naming the option otherwise, as `prefix` + its name
        (the CLI's "--seed"; the service passes "" for its query parameter "seed").
        `workers` None: the BP_WORKERS setting."""
        from blueprint_pipeline.robots.description import robot_by_name

        robot_by_name(robot, field=f"{prefix}robot")
        if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int)
                                     or not 0 <= episodes <= MAX_EPISODES):
            raise InvalidInputError(f"{prefix}episodes: must be an integer from 0 to {MAX_EPISODES}, got {episodes!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_MIN <= seed <= SEED_MAX:
            raise InvalidInputError(f"{prefix}seed: must be an integer from {SEED_MIN} to {SEED_MAX}, got {seed!r}")
        if workers is None:
            workers = (settings or get_settings()).workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidInputError(f"{prefix}workers: must be an integer >= 1, got {workers!r}")
        check_executor(executor)
        if isinstance(image_size, bool) or image_size not in IMAGE_SIZES:
            name = "image-size" if prefix else "image_size"  # the CLI's flag, the service's query parameter
            raise InvalidInputError(f"{prefix}{name}: must be one of {', '.join(map(str, IMAGE_SIZES))}, "
                                    f"got {image_size!r}")
        return cls(robot=robot, episodes=episodes, workers=workers, render=bool(render), seed=seed,
                   strict=bool(strict), keep_failed_episodes=bool(keep_failed_episodes), executor=executor,
                   image_size=int(image_size), visual_randomization=bool(visual_randomization),
                   shadows=bool(shadows))


ProgressFn = Callable[[int, int | None, str], None]


def _no_progress(done: int, total: int | None, what: str) -> None:
    return None


@dataclass
class StageContext:
    manifest_url: str
    out_url: str
    options: RunOptions = field(default_factory=RunOptions)
    settings: Settings = field(default_factory=get_settings)
    progress: ProgressFn = _no_progress
    # Set by the runner for the stage it runs: the sha256 of the stage's fingerprint (its inputs'
    # hashes, the options it reads, the package version). A stage that resumes work items keys
    # them by it, so results computed from other inputs are never reused.
    input_digest: str = ""
    # --force: rerun the stage even if up to date, and its failed items even if recorded.
    force: bool = False

    def __post_init__(self) -> None:
        if self.settings is None:  # a caller without settings of its own: the process's
            self.settings = get_settings()

    def stage_dir(self, stage: str) -> str:
        return storage.join(self.out_url, stage)

    def path(self, stage: str, *parts: str) -> str:
        return storage.join(self.out_url, stage, *parts)

    def url(self, artifact: Artifact) -> str:
        """Where `artifact` is in this run's output folder."""
        return artifact.url(self.out_url)

    def asset_root(self) -> str | None:
        """Where asset paths in the manifest are resolved: BP_ASSET_ROOT, else the manifest's
        folder (None without a manifest)."""
        if self.settings.asset_root:
            return str(self.settings.asset_root)
        if not self.manifest_url:
            return None
        return posixpath.dirname(str(self.manifest_url).rstrip("/")) or "."


@dataclass
class StageResult:
    outputs: list[str] = field(default_factory=list)  # paths relative to <out>
    summary: dict[str, Any] = field(default_factory=dict)
    items_ok: int = 0
    items_failed: int = 0
