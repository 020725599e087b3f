"""Settings of the simready stage (all have defaults; every one can be changed per run)."""

from __future__ import annotations

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
    workers: int = 10  # threads for I/O-bound estimators (settings.object_workers)
    rate_per_s: float | None = None  # None: the call policy's shared setting (settings.rate_limit_per_s)

    @classmethod
    def from_sources(cls, settings: Any = None, strict: bool = False, **overrides: Any) -> SimreadyConfig:
        """Defaults <- `settings` (its `object_workers`, and `simready_<name>` fields where the
        settings define them) <- keyword overrides."""
        cfg = cls(strict=strict)
        values: dict[str, Any] = {}
        if settings is not None and getattr(settings, "object_workers", None):
            values["workers"] = int(settings.object_workers)
        for f in fields(cls):
            raw = getattr(settings, f"simready_{f.name}", None) if settings is not None else None
            if raw is not None and f.name != "randomization":
                values[f.name] = raw
        dr = {name: getattr(settings, f"simready_dr_{name}", None) if settings is not None else None
              for name in ("mass_rel", "friction_rel", "restitution_rel", "com_noise_rel")}
        if any(v is not None for v in dr.values()):
            values["randomization"] = replace(cfg.randomization, **{k: float(v) for k, v in dr.items() if v is not None})
        values.update(overrides)
        cfg = replace(cfg, **values)
        if cfg.estimator not in ESTIMATORS:
            from blueprint_pipeline.errors import InvalidInputError

            raise InvalidInputError(f"simready estimator {cfg.estimator!r} is unknown; choose one of {ESTIMATORS}")
        return cfg
