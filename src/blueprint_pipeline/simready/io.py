"""The one accessor of `simready/physics.json` (or `.jsonl`) for every later stage.

JSON: the whole `PhysicsFile`. JSON Lines (`*.jsonl`, for very large scenes): a header line
{"schema", "scene_id", "estimator"} then one `ObjectPhysics` per line. Both are read by
`load_physics`; an unknown schema is rejected with a clear message.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from blueprint_pipeline import storage
from blueprint_pipeline.contract import SIMREADY_PHYSICS
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.simready.records import PHYSICS_SCHEMA, ObjectPhysics, PhysicsFile

PHYSICS_FILE = SIMREADY_PHYSICS.name


def _is_jsonl(url: str) -> bool:
    return str(url).endswith(".jsonl")


def write_physics(url: str, physics: PhysicsFile) -> None:
    """Write atomically; JSON Lines when `url` ends in `.jsonl`."""
    if not _is_jsonl(url):
        storage.atomic_write_text(url, physics.model_dump_json(by_alias=True, indent=1) + "\n")
        return
    with storage.atomic_writer(url, "w") as f:
        head = {"schema": physics.schema_, "scene_id": physics.scene_id, "estimator": physics.estimator}
        f.write(json.dumps(head) + "\n")
        for obj in physics.objects.values():
            f.write(obj.model_dump_json() + "\n")


def _check_schema(url: str, schema: object) -> None:
    if schema != PHYSICS_SCHEMA:
        raise InvalidInputError(
            f"{url}: unsupported physics schema {schema!r} (this version reads {PHYSICS_SCHEMA}); "
            "re-run the simready stage with this version"
        )


def _invalid(url: str, exc: ValidationError, prefix: str = "") -> InvalidInputError:
    problems = [Problem(prefix + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()[:20]]
    return InvalidInputError(f"{url}: invalid physics file", problems, max(0, exc.error_count() - 20))


def load_physics(url: str) -> PhysicsFile:
    """Read a physics file written by `write_physics` (JSON or JSON Lines)."""
    if not storage.exists(url):
        raise InvalidInputError(f"{url}: physics file not found (run the simready stage first)")
    if not _is_jsonl(url):
        try:
            raw = storage.read_json(url)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{url}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{url}: expected a JSON object at the top level")
        _check_schema(url, raw.get("schema"))
        try:
            return PhysicsFile.model_validate(raw)
        except ValidationError as exc:
            raise _invalid(url, exc) from None
    objects: dict[str, ObjectPhysics] = {}
    with storage.open_read(url, "r") as f:
        head_line = f.readline()
        try:
            head = json.loads(head_line) if head_line.strip() else {}
        except json.JSONDecodeError:
            head = {}
        _check_schema(url, head.get("schema") if isinstance(head, dict) else None)
        for lineno, line in enumerate(f, start=2):
            if not line.strip():
                continue
            try:
                obj = ObjectPhysics.model_validate_json(line)
            except ValidationError as exc:
                raise _invalid(url, exc, f"line {lineno}: ") from None
            objects[obj.object_id] = obj
    return PhysicsFile(schema=head["schema"], scene_id=head.get("scene_id", ""),
                       estimator=head.get("estimator", ""), objects=objects)
