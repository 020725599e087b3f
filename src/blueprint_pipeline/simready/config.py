"""Settings of the simready stage (all have defaults; every one can be changed per run)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from blueprint_pipeline.config import Settings
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.simready.meshes import MeshSettings

DEFAULT_MESH_CACHE = os.path.join("~", ".cache", "blueprint-pipeline", "meshes")

ESTIMATORS = ("table", "gemini")


@dataclass(frozen=True)
class RandomizationConfig:
    """Domain-randomisation half-widths, relative to the nominal value (COM: to each extent)."""

    mass_rel: float = 0.20
    friction_rel: float = 0.15
    restitution_rel: float = 0.30
    com_noise_rel: float = 0.05


@dataclass(frozen=True)
class SimreadyConfig:
    estimator: str = "table"
    strict: bool = False  # reject out-of-range manifest values instead of clamping them
    gripper_stroke_m: float = 0.08  # parallel gripper opening (Franka Hand: 0.08 m)
    max_graspable_mass_kg: float = 25.0
    randomization: RandomizationConfig = RandomizationConfig()
    # Gemini estimator (optional extra `gemini`)
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    gemini_timeout_s: float = 30.0
    workers: int = 10  # threads for I/O-bound estimators (settings.object_workers)
    rate_per_s: float | None = None  # None: the call policy's shared setting (settings.rate_limit_per_s)
    meshes: MeshSettings = MeshSettings()  # object meshes from asset files (simready/meshes.py)

    @classmethod
    def from_settings(cls, settings: Settings, strict: bool = False, **overrides: Any) -> SimreadyConfig:
        """The BP_SIMREADY_* settings and BP_OBJECT_WORKERS, then keyword overrides."""
        cfg = cls(
            estimator=settings.simready_estimator, strict=strict, workers=settings.object_workers,
            gemini_model=settings.simready_gemini_model, gemini_base_url=settings.simready_gemini_base_url,
            randomization=RandomizationConfig(
                mass_rel=settings.simready_dr_mass_rel, friction_rel=settings.simready_dr_friction_rel,
                restitution_rel=settings.simready_dr_restitution_rel,
                com_noise_rel=settings.simready_dr_com_noise_rel),
            meshes=MeshSettings(max_hulls=settings.mesh_max_hulls, visual_triangles=settings.mesh_visual_triangles,
                                cache_dir=mesh_cache_dir(settings.mesh_cache_dir)),
        )
        cfg = replace(cfg, **overrides)
        if cfg.estimator not in ESTIMATORS:
            raise InvalidInputError(f"simready estimator {cfg.estimator!r} is unknown; choose one of {ESTIMATORS}")
        return cfg


def mesh_cache_dir(setting: str | None) -> str | None:
    """The decomposition cache's folder: the setting, else DEFAULT_MESH_CACHE; "off": none."""
    if setting is not None and setting.strip().lower() == "off":
        return None
    return os.path.expanduser(setting or DEFAULT_MESH_CACHE)
