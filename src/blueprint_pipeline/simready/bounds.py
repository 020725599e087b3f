"""Bounds for physics values from outside (manifest, LLM) and the rule for values outside them.

Rule (documented in the README):
- not a number, NaN or infinite, negative, or zero mass/density -> rejected: there is no
  sensible value to clamp to, so the problem is reported with its field path;
- finite but outside the bounds (friction 50, density 0.1) -> clamped to the nearest bound,
  with a note recorded in the object's `notes`; in strict mode these are rejected as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from blueprint_pipeline.errors import Problem

BOUNDS: dict[str, tuple[float, float]] = {
    "mass_kg": (0.001, 1000.0),
    "density_kg_m3": (0.5, 20000.0),
    "static_friction": (0.0, 2.0),
    "dynamic_friction": (0.0, 2.0),
    "restitution": (0.0, 1.0),
}
_STRICTLY_POSITIVE = {"mass_kg", "density_kg_m3"}


@dataclass
class CheckedValues:
    """Accepted values by field name, with the notes and problems found on the way."""

    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_value(name: str, raw: object, path: str, strict: bool, out: CheckedValues) -> None:
    """Validate one value against BOUNDS[name]; record it, a clamp note, or a problem in `out`."""
    if raw is None:
        return
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        out.problems.append(Problem(path, f"must be a number, got {type(raw).__name__} {str(raw)[:40]!r}"))
        return
    value = float(raw)
    lo, hi = BOUNDS[name]
    if not math.isfinite(value):
        out.problems.append(Problem(path, f"must be a finite number, got {value}"))
        return
    if value < 0 or (value == 0 and name in _STRICTLY_POSITIVE):
        kind = "positive" if name in _STRICTLY_POSITIVE else "non-negative"
        out.problems.append(Problem(path, f"must be {kind}, got {value:g}"))
        return
    if lo <= value <= hi:
        out.values[name] = value
        return
    if strict:
        out.problems.append(Problem(path, f"{value:g} is outside [{lo:g}, {hi:g}] (strict mode)"))
        return
    clamped = min(max(value, lo), hi)
    out.values[name] = clamped
    out.notes.append(f"{path}: {value:g} is outside [{lo:g}, {hi:g}]; clamped to {clamped:g}")


def check_values(raw: dict[str, object], path_prefix: str, strict: bool) -> CheckedValues:
    out = CheckedValues()
    for name in BOUNDS:
        check_value(name, raw.get(name), f"{path_prefix}.{name}", strict, out)
    return out
