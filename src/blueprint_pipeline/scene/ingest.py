"""Manifest -> normalised records, one object at a time, collecting every problem.

    ingest = ManifestIngest(url, strict=False)
    for rec in ingest.records():      # the JSON form of SceneObject (objects() gives typed records)
        ...
    header = ingest.header_record()   # SceneHeader, object_count filled in

`records()` raises `InvalidInputError` with every problem found (capped at 100 plus a count) once
the whole manifest has been read; it stops yielding records at the first problem but keeps
validating, so the error lists everything. Cross-object rules need only small per-object state:
a set of id hashes and the relationship targets not seen yet (forward references).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from blueprint_pipeline.scene import build, reader, sanitise
from blueprint_pipeline.scene.manifest import ManifestHeader, ManifestObject
from blueprint_pipeline.scene.normalise import FrameConversion, snap
from blueprint_pipeline.scene.problems import ProblemCollector, loc_to_path, phrase
from blueprint_pipeline.scene.records import SceneHeader, SceneObject


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (to suggest its keys)."""
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        f = fields.get(part)
        if f is None:
            return None
        found = _find_model(f.annotation)
        if found is None:
            return None
        model = found
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            m = _find_model(arg)
            if m is not None:
                return m
    return None


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _pop_path(raw: Any, loc: tuple[Any, ...]) -> Any:
    target = raw
    for part in loc[:-1]:
        target = target[part]
    return target.pop(loc[-1])


def _star(path: str) -> str:
    """objects[17].relationships[2].x -> objects[*].relationships[*].x (to group warnings)."""
    return re.sub(r"\[\d+\]", "[*]", path)


class ManifestIngest:
    """Reads, validates and normalises one manifest (see module docstring)."""

    def __init__(self, url: str, *, strict: bool = False,
                 stream_threshold_bytes: int = reader.DEFAULT_STREAM_THRESHOLD_BYTES) -> None:
        self.url = url
        self.strict = strict
        self.problems = ProblemCollector()
        self.raw = reader.open_manifest(url, stream_threshold_bytes)
        for p in self.raw.header_problems:
            self.problems.add(p.path, p.message)
        self.by_role: Counter[str] = Counter()
        self.by_category: Counter[str] = Counter()
        self.object_count = 0
        self.header: ManifestHeader | None = None
        self._header_extras: dict[str, Any] = {}
        self._duplicates: list[tuple[int, str]] = []
        self._validate_header()
        self.frame = FrameConversion(self.header) if self.header is not None else None
        self._done = False

    # -- header ---------------------------------------------------------------------------------

    def _validate_header(self) -> None:
        raw = self.raw.header
        if not self.raw.has_objects:
            self.problems.add("objects", "is required (an array of objects)")
        model, extras = self._validate(ManifestHeader, raw, "")
        if model is None:
            return
        self.header = model
        self._header_extras = extras
        for name in ("assets", "metadata", "background"):
            value = getattr(model, name)
            if value is not None:
                for path, msg in sanitise.free_form_problems(value, name):
                    self.problems.add(path, msg)

    # -- one object -----------------------------------------------------------------------------

    def _validate(self, model_cls: type[BaseModel], raw: Any, prefix: str) -> tuple[Any, dict[str, Any]]:
        """Validate `raw`; unknown keys become errors (strict) or extras + a warning. Returns
        (model or None, extras)."""
        extras: dict[str, Any] = {}
        for _ in range(2):
            try:
                # The compiled validator directly: model_validate() adds a Python call per object.
                return model_cls.__pydantic_validator__.validate_python(raw), extras
            except ValidationError as exc:
                errors = exc.errors(include_url=False)
                unknown = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
                if not unknown or self.strict or len(unknown) != len({*unknown}) or extras:
                    self._report(model_cls, exc, prefix)
                    return None, extras
                for loc in unknown:
                    rel = loc_to_path("", loc)
                    extras[rel] = _pop_path(raw, loc)
                    hint = self._did_you_mean(model_cls, loc)
                    self.problems.warn(_star(loc_to_path(prefix, loc)),
                                       "unknown key kept under extras" + (f" (did you mean {hint!r}?)" if hint else ""))
                if len(unknown) == len(errors):
                    continue
                # Other errors too: report them (revalidation would repeat them).
                self._report(model_cls, exc, prefix, skip=set(unknown))
                return None, extras
        return None, extras

    def _did_you_mean(self, model_cls: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
        owner = _model_at(model_cls, loc[:-1])
        if owner is None or not isinstance(loc[-1], str):
            return None
        close = difflib.get_close_matches(loc[-1], _known_keys(owner), n=1, cutoff=0.7)
        return close[0] if close else None

    def _report(self, model_cls: type[BaseModel], exc: ValidationError, prefix: str,
                skip: set[tuple[Any, ...]] | None = None) -> None:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            if skip and loc in skip:
                continue
            if err["type"] == "extra_forbidden":
                hint = self._did_you_mean(model_cls, loc)
                msg = "unknown key" + (f"; did you mean {hint!r}?" if hint else " (strict mode)")
                self.problems.add(loc_to_path(prefix, loc), msg)
            else:
                self.problems.add(loc_to_path(prefix, loc), phrase(err))

    def _object(self, index: int, raw: Any, dup_keys: list[str], ids: set[int],
                rel_targets: list[tuple[str, str]]) -> dict[str, Any] | None:
        prefix = f"objects[{index}]"
        add = self.problems.add
        for k in dup_keys:
            add(prefix, f"duplicate key {k!r} in one JSON object")
        if not isinstance(raw, dict):
            add(prefix, f"must be an object, got {type(raw).__name__}")
            return None
        obj, extras = self._validate(ManifestObject, raw, prefix)
        if obj is None:
            if isinstance(raw.get("id"), str):
                ids.add(hash(raw["id"]))  # so later duplicates and relationships still check
            return None
        key = hash(obj.id)
        if key in ids:
            self._duplicates.append((index, obj.id))
        ids.add(key)
        self.object_count += 1
        self.by_role[obj.sim_role.value] += 1
        self.by_category[obj.category] += 1
        for j, rel in enumerate(obj.relationships):
            # Targets already seen are checked now; only forward references wait for the end.
            if hash(rel.object_id) not in ids:
                rel_targets.append((f"{prefix}.relationships[{j}].object_id", rel.object_id))
            if rel.subject_id is not None and hash(rel.subject_id) not in ids:
                rel_targets.append((f"{prefix}.relationships[{j}].subject_id", rel.subject_id))
        if obj.articulation is not None and not obj.sim_role.is_articulated:
            self.problems.warn("objects[*].articulation", f"given for sim_role {obj.sim_role.value!r} (kept)")
        if obj.articulation is None and obj.sim_role.is_articulated:
            self.problems.warn("objects[*]", "articulated sim_role without an articulation")
        physics = build.physics_record(obj, prefix, add)
        affordances = build.affordance_records(obj, prefix, add)
        asset = build.asset_record(obj, prefix, add)
        placement = obj.placement_region if isinstance(obj.placement_region, str) else None
        if obj.placement_region is not None and placement is None:
            extras["placement_region"] = obj.placement_region
        elif placement is not None:
            try:
                sanitise.check_name(placement)
            except ValueError as exc:
                add(f"{prefix}.placement_region", str(exc))
        if extras:
            for path, msg in sanitise.free_form_problems(extras, f"{prefix}.extras"):
                add(path, msg)
        if self.problems or self.frame is None:
            return None  # keep validating, but a failed ingest produces no records
        return build.object_record(obj, self.frame, prefix, add, affordances, physics, asset, placement, extras)

    # -- whole manifest -------------------------------------------------------------------------

    def objects(self) -> Iterator[SceneObject]:
        """`records()` as typed `SceneObject`s (validating each again: convenient, slower)."""
        for rec in self.records():
            yield SceneObject.model_validate(rec)

    def records(self) -> Iterator[dict[str, Any]]:
        """Normalised objects in manifest order, as the JSON form of `SceneObject`; raises
        InvalidInputError at the end if anything was wrong (yielding nothing more once the first
        problem was seen, but reading on so that the error lists every problem)."""
        # Ids are kept as their hashes (a set of ints: about half the memory of the strings);
        # the rare duplicates are named precisely by a second look at the ids below.
        ids: set[int] = set()
        rel_targets: list[tuple[str, str]] = []
        # A syntax error inside the objects array (found only while streaming them) is raised
        # as it is: the file is not JSON, so the other problems found so far say little.
        for index, raw, dups in self.raw.objects():
            rec = self._object(index, raw, dups, ids, rel_targets)
            if rec is not None:
                yield rec
        for path, target in rel_targets:
            if hash(target) not in ids:
                self.problems.add(path, f"names object {target!r}, which is not in the manifest")
        if self._duplicates:
            self._report_duplicates()
        self._done = True
        self.problems.raise_if_any(f"invalid manifest {self.url}")

    def _report_duplicates(self) -> None:
        """Find where each duplicated id was first used (rereads the ids; only on this error)."""
        wanted = {oid for _, oid in self._duplicates}
        first: dict[str, int] = {}
        for index, raw, _ in self.raw.objects():
            oid = raw.get("id") if isinstance(raw, dict) else None
            if oid in wanted and oid not in first:
                first[oid] = index
        for index, oid in self._duplicates:
            if first.get(oid, index) != index:
                self.problems.add(f"objects[{index}].id", f"duplicate id {oid!r} (first used by objects[{first[oid]}])")

    def header_record(self) -> SceneHeader:
        """The normalised header; call after `objects()` has been consumed."""
        if not self._done:
            raise RuntimeError("header_record() needs objects() to have been consumed first")
        h, fc = self.header, self.frame
        assert h is not None and fc is not None
        size, origin = fc.room(h)
        pd = h.scene.physics_defaults
        return SceneHeader(
            scene_id=h.scene_id,
            manifest_version=h.version,
            environment_type=h.scene.environment_type,
            source_frame=h.scene.coordinate_frame,
            source_meters_per_unit=h.scene.meters_per_unit,
            room_size_m=snap(size) if size else None,
            room_origin_m=snap(origin) if origin else None,
            gravity_m_s2=snap(fc.gravity(h)),
            physics_solver=pd.solver if pd else None,
            time_steps_per_second=pd.time_steps_per_second if pd else None,
            object_count=self.object_count,
            manifest_sha256=self.raw.sha256,
            metadata=h.metadata or {},
            extras={**self._header_extras,
                    **({"assets": h.assets} if h.assets is not None else {}),
                    **({"background": h.background} if h.background is not None else {})},
        )


def validate_manifest(url: str, *, strict: bool = False,
                      stream_threshold_bytes: int = reader.DEFAULT_STREAM_THRESHOLD_BYTES) -> ManifestIngest:
    """Run the whole ingest without keeping records; raises InvalidInputError on problems."""
    ingest = ManifestIngest(url, strict=strict, stream_threshold_bytes=stream_threshold_bytes)
    for _ in ingest.records():
        pass
    return ingest
