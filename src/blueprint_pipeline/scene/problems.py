"""Collecting every problem of a manifest (capped) and phrasing pydantic's errors for people."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from blueprint_pipeline.errors import InvalidInputError, Problem

MAX_PROBLEMS = 100
MAX_WARNING_KINDS = 50
MAX_NAMES_PER_WARNING = 10  # objects named in one grouped warning; the rest are counted


def loc_to_path(prefix: str, loc: tuple[Any, ...]) -> str:
    """('transform', 'scale', 'y') under 'objects[17]' -> 'objects[17].transform.scale.y'."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def phrase(err: dict[str, Any]) -> str:
    """One pydantic error -> a short message that does not echo large inputs."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "greater_than":
        return f"must be > {ctx.get('gt'):g}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge'):g}"
    if kind == "less_than_equal":
        le = ctx.get("le", 0)
        return f"must be <= {le:g} (absurd magnitude)" if le >= 1e5 else f"must be <= {le:g}"
    if kind == "less_than":
        return f"must be < {ctx.get('lt'):g}"
    if kind == "finite_number":
        return "must be a finite number (NaN and Infinity are not allowed)"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing"):
        return f"must be a number, got {type(err.get('input')).__name__}"
    if kind in ("string_type",):
        return f"must be a string, got {type(err.get('input')).__name__}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be an object, got {type(err.get('input')).__name__}"
    if kind in ("list_type", "tuple_type"):
        return f"must be an array, got {type(err.get('input')).__name__}"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "too_long":
        return f"has too many items (at most {ctx.get('max_length')})"
    if kind == "too_short":
        return f"has too few items (needs {ctx.get('min_length')})"
    if kind == "string_pattern_mismatch":
        from blueprint_pipeline.scene.sanitise import explain_pattern_failure

        ours = explain_pattern_failure(str(ctx.get("pattern")), err.get("input"))
        return ours or f"{_short(err.get('input'))} must match {ctx.get('pattern')}"
    if kind == "string_too_long":
        value = err.get("input")
        size = f"{len(value)} characters; " if isinstance(value, str) else ""
        return f"is too long ({size}at most {ctx.get('max_length')})"
    if kind == "enum":
        return f"unknown value {_short(err.get('input'))}; expected one of {ctx.get('expected')}"
    if kind == "literal_error":
        return f"unknown value {_short(err.get('input'))}; expected {ctx.get('expected')}"
    if kind == "value_error":
        return re.sub(r"^Value error, ", "", err["msg"])
    return err["msg"]


_FIELD_IN_MESSAGE = re.compile(r"^@([A-Za-z_][A-Za-z0-9_.]*): ")


def located(prefix: str, err: dict[str, Any]) -> tuple[str, str]:
    """(path, message) of one pydantic error. A model validator that checks one field against
    another names the field it blames by starting its message with `@field.path: `, which is
    appended to the error's location (pydantic locates such errors at the model)."""
    message = phrase(err)
    m = _FIELD_IN_MESSAGE.match(message)
    if m:
        return loc_to_path(prefix, (*err["loc"], *m.group(1).split("."))), message[m.end():]
    return loc_to_path(prefix, tuple(err["loc"])), message


@dataclass
class ProblemCollector:
    """Keeps the first MAX_PROBLEMS problems and counts the rest; warnings are grouped by kind
    (`objects[*].colour: unknown key kept under extras`) with a count, so 100k objects with the
    same quirk make one line. A warning about particular objects names them (`name`): the first
    MAX_NAMES_PER_WARNING are listed on its line, the rest counted."""

    problems: list[Problem] = field(default_factory=list)
    omitted: int = 0
    warning_counts: Counter[str] = field(default_factory=Counter)
    warning_names: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, message))
        else:
            self.omitted += 1

    def warn(self, path_pattern: str, message: str, name: str | None = None) -> None:
        key = f"{path_pattern}: {message}"
        if key in self.warning_counts or len(self.warning_counts) < MAX_WARNING_KINDS:
            self.warning_counts[key] += 1
            if name is not None:
                names = self.warning_names.setdefault(key, [])
                if len(names) < MAX_NAMES_PER_WARNING:
                    names.append(name)

    def merge_warnings(self, counts: Counter[str], names: dict[str, list[str]] | None = None) -> None:
        """Add warnings gathered elsewhere (a worker's collector), same caps."""
        for key, n in counts.items():
            if key in self.warning_counts or len(self.warning_counts) < MAX_WARNING_KINDS:
                self.warning_counts[key] += n
                if names and key in names:
                    kept = self.warning_names.setdefault(key, [])
                    kept.extend(names[key][:MAX_NAMES_PER_WARNING - len(kept)])

    @property
    def total(self) -> int:
        """Problems found so far, kept or not."""
        return len(self.problems) + self.omitted

    @property
    def warnings(self) -> list[str]:
        out = []
        for k, n in self.warning_counts.items():
            names = self.warning_names.get(k)
            if names:
                more = n - len(names)
                out.append(f"{k}: {', '.join(names)}" + (f" and {more} more" if more > 0 else ""))
            else:
                out.append(k if n == 1 else f"{k} ({n} times)")
        return out

    def __bool__(self) -> bool:
        return bool(self.problems) or self.omitted > 0

    def raise_if_any(self, what: str) -> None:
        if self:
            total = len(self.problems) + self.omitted
            raise InvalidInputError(f"{what}: {total} problem{'s' if total != 1 else ''} found", self.problems, self.omitted)
