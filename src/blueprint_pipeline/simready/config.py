"""Settings of the simready stage (all have defaults; every one can be changed per run)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

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
    workers: int = 10
    rate_per_s: float = 10.0

    @classmethod
    def from_sources(cls, settings: Any = None, strict: bool = False, **overrides: Any) -> SimreadyConfig:
        """Defaults <- `settings.simready_<name>` attributes <- BP_SIMREADY_<NAME> env <- overrides."""
        cfg = cls(strict=strict)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "randomization":
                continue
            attr = getattr(settings, f"simready_{f.name}", None) if settings is not None else None
            env = os.environ.get(f"BP_SIMREADY_{f.name.upper()}")
            raw = attr if attr is not None else env
            if raw is None:
                continue
            default = getattr(cfg, f.name)
            if isinstance(default, bool):
                values[f.name] = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
            else:
                values[f.name] = type(default)(raw)
        values.update(overrides)
        cfg = replace(cfg, **values)
        if cfg.estimator not in ESTIMATORS:
            from blueprint_pipeline.errors import InvalidInputError

            raise InvalidInputError(f"simready estimator {cfg.estimator!r} is unknown; choose one of {ESTIMATORS}")
        return cfg
