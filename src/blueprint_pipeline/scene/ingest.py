"""Manifest -> normalised records, one object at a time, collecting every problem.

    ingest = ManifestIngest(url, strict=False)
    for rec in ingest.records():      # the JSON form of SceneObject (objects() gives typed records)
        ...
    header = ingest.header_record()   # SceneHeader, object_count filled in

`records()` raises `InvalidInputError` with every problem found (capped at 100 plus a count) once
the whole manifest has been read; it stops yielding records at the first problem but keeps
validating, so the error lists everything. Cross-object rules need only small per-object state:
a set of id hashes and the relationship targets not seen yet (forward references). Per-object
checks are `check.ObjectChecker`'s; for large streamed files they run in worker processes
(`shards.py`) and this module consumes their results in file order.

Objects without `dimensions_est` are sized from their asset files under `asset_root` (default:
the manifest's folder); one with neither is kept out of simulation: listed in the header's
`excluded_objects`, not as an object line, with a warning naming it. Once every object is read,
the layout's plausibility is checked (`plausibility.py`: floating, sunk, overlapping objects;
warnings only).
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from collections.abc import Iterator
from typing import Any

from blueprint_pipeline.scene import plausibility, reader, sanitise, shards
from blueprint_pipeline.scene.check import ObjectChecker, ObjectFacts, record_line
from blueprint_pipeline.scene.manifest import ManifestHeader
from blueprint_pipeline.scene.normalise import FrameConversion, snap
from blueprint_pipeline.scene.problems import ProblemCollector
from blueprint_pipeline.scene.records import ExcludedObject, SceneHeader, SceneObject


class ManifestIngest:
    """Reads, validates and normalises one manifest (see module docstring).

    `workers`: processes that check the objects of a streamed manifest (0: one per core, at
    most 8; 1: all in this process). Only streamed files the fast scan cut into two or more
    spans use them; the results are the same either way.

    `asset_root`: where asset paths are resolved to size objects without `dimensions_est`
    (default: the manifest's folder)."""

    def __init__(self, url: str, *, strict: bool = False,
                 stream_threshold_bytes: int = reader.DEFAULT_STREAM_THRESHOLD_BYTES,
                 workers: int = 1, chunk_bytes: int = reader.CHUNK_BYTES,
                 asset_root: str | None = None) -> None:
        self.url = url
        self.strict = strict
        self.asset_root = asset_root if asset_root else (posixpath.dirname(url.rstrip("/")) or ".")
        self.workers = workers if workers > 0 else shards.default_workers()
        self.problems = ProblemCollector()
        self.raw = reader.open_manifest(url, stream_threshold_bytes, chunk_bytes=chunk_bytes)
        for p in self.raw.header_problems:
            self.problems.add(p.path, p.message)
        self.by_role: Counter[str] = Counter()
        self.by_category: Counter[str] = Counter()
        self.object_count = 0
        self.header: ManifestHeader | None = None
        self._header_extras: dict[str, Any] = {}
        self._duplicates: list[tuple[int, str]] = []
        self.excluded: list[dict[str, Any]] = []  # objects kept out of simulation (ExcludedObject's JSON form)
        self.layout = plausibility.Layout()
        self._checker = ObjectChecker(self.problems, None, strict, self.asset_root)
        self._validate_header()
        self.frame = FrameConversion(self.header) if self.header is not None else None
        self._checker.frame = self.frame
        self._done = False

    # -- header ---------------------------------------------------------------------------------

    def _validate_header(self) -> None:
        raw = self.raw.header
        if not self.raw.has_objects:
            self.problems.add("objects", "is required (an array of objects)")
        model, extras = self._checker.validate(ManifestHeader, raw, "")
        if model is None:
            return
        self.header = model
        self._header_extras = extras
        for name in ("assets", "metadata", "background"):
            value = getattr(model, name)
            if value is not None:
                for path, msg in sanitise.free_form_problems(value, name):
                    self.problems.add(path, msg)

    # -- across objects -------------------------------------------------------------------------

    def _account(self, index: int, facts: ObjectFacts | None, ids: set[int],
                 rel_targets: list[tuple[str, str]]) -> None:
        """Cross-object bookkeeping for one object: ids (as hashes: about half the memory of the
        strings; the rare duplicates are named precisely by a second look at the ids), counts,
        and relationship targets not seen yet (forward references wait for the end)."""
        if facts is None:
            return
        oid, role, category, refs, box, excluded = facts
        if oid is None:
            return
        key = hash(oid)
        if role is None:  # failed validation: noted so later duplicates and relationships still check
            ids.add(key)
            return
        if key in ids:
            self._duplicates.append((index, oid))
        ids.add(key)
        self.object_count += 1
        self.by_role[role] += 1
        self.by_category[category] += 1
        if excluded is not None:
            self.excluded.append(excluded)
        elif box is not None and not self.problems:  # once anything is wrong no check will be reported
            self.layout.add(oid, box)
        for j, name, target in refs:
            if hash(target) not in ids:
                rel_targets.append((f"objects[{index}].relationships[{j}].{name}", target))

    # -- whole manifest -------------------------------------------------------------------------

    def objects(self) -> Iterator[SceneObject]:
        """`records()` as typed `SceneObject`s (validating each again: convenient, slower)."""
        for rec in self.records():
            yield SceneObject.model_validate(rec)

    def records(self) -> Iterator[dict[str, Any]]:
        """Normalised objects in manifest order, as the JSON form of `SceneObject`; raises
        InvalidInputError at the end if anything was wrong (yielding nothing more once the first
        problem was seen, but reading on so that the error lists every problem)."""
        for item in self._checked():
            yield json.loads(item) if isinstance(item, str) else item

    def record_lines(self) -> Iterator[str]:
        """`records()` as JSON Lines lines (no newline): what the normalised scene file holds.
        With workers the lines are made there, so this is the fast way to write a scene."""
        for item in self._checked():
            yield item if isinstance(item, str) else record_line(item)

    def uses_workers(self) -> bool:
        """Whether the objects are checked by worker processes (a streamed file of two or more spans)."""
        spans = self.raw.spans
        return self.workers > 1 and spans is not None and len(spans) > 1

    def _checked(self) -> Iterator[dict[str, Any] | str]:
        ids: set[int] = set()
        rel_targets: list[tuple[str, str]] = []
        if self.uses_workers():
            yield from self._checked_in_workers(ids, rel_targets)
        else:
            # A syntax error inside the objects array (found only while streaming them) is raised
            # as it is: the file is not JSON, so the other problems found so far say little.
            for index, raw, dups in self.raw.objects():
                rec, facts = self._checker.check(index, raw, dups)
                self._account(index, facts, ids, rel_targets)
                if rec is not None and not self.problems:
                    yield rec
        for path, target in rel_targets:
            if hash(target) not in ids:
                self.problems.add(path, f"names object {target!r}, which is not in the manifest")
        if self._duplicates:
            self._report_duplicates()
        if not self.problems:
            self.layout.check(self.problems.warn)
        self._done = True
        self.problems.raise_if_any(f"invalid manifest {self.url}")

    def _checked_in_workers(self, ids: set[int], rel_targets: list[tuple[str, str]]) -> Iterator[str]:
        offset = 0
        for result in shards.check_spans(self.raw, self.frame, self.strict, self.workers, self.asset_root):
            if result.syntax_error is not None:
                shards.raise_syntax_error(self.raw, result, offset)
            kept = iter(result.problems)
            for i in range(result.count):
                for _ in range(result.problem_counts[i]):
                    p = next(kept, None)
                    if p is None:  # beyond the span's own cap: counted, not kept
                        self.problems.omitted += 1
                    else:
                        p = shards.shifted(p, offset)
                        self.problems.add(p.path, p.message)
                self._account(offset + i, result.facts[i], ids, rel_targets)
                line = result.lines[i]
                if line is not None and not self.problems:
                    yield line
            self.problems.merge_warnings(result.warnings, result.warning_names)
            offset += result.count

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
            object_count=self.object_count - len(self.excluded),
            excluded_objects=tuple(ExcludedObject.model_validate(e) for e in self.excluded),
            manifest_sha256=self.raw.sha256,
            metadata=h.metadata or {},
            extras={**self._header_extras,
                    **({"assets": h.assets} if h.assets is not None else {}),
                    **({"background": h.background} if h.background is not None else {})},
        )


def validate_manifest(url: str, *, strict: bool = False,
                      stream_threshold_bytes: int = reader.DEFAULT_STREAM_THRESHOLD_BYTES,
                      workers: int = 1) -> ManifestIngest:
    """Run the whole ingest without keeping records; raises InvalidInputError on problems."""
    ingest = ManifestIngest(url, strict=strict, stream_threshold_bytes=stream_threshold_bytes, workers=workers)
    for _ in ingest.record_lines():
        pass
    return ingest
