"""Read and write the normalised scene (`contract.SCENE_NORMALIZED`) as a stream; every reader
of the file goes through `iter_normalized`, `load_scene` or `read_header`."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.scene.check import record_line
from blueprint_pipeline.scene.records import (
    NORMALIZED_SCHEMA,
    Scene,
    SceneHeader,
    SceneObject,
)



def write_normalized(url: str, header: SceneHeader, objects: Iterable[SceneObject]) -> int:
    """Write header + objects atomically; returns the number of objects written."""
    n = 0
    with storage.atomic_writer(url, "w") as f:
        f.write(header.model_dump_json(by_alias=True) + "\n")
        for obj in objects:
            f.write(obj.model_dump_json() + "\n")
            n += 1
    return n


def _header(url: str, first: str) -> SceneHeader:
    if not first:
        raise InvalidInputError(f"{url}: empty normalised scene file")
    try:
        raw = json.loads(first)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{url}: the header line is not JSON ({exc.msg})") from None
    if not isinstance(raw, dict) or raw.get("schema") != NORMALIZED_SCHEMA:
        raise InvalidInputError(
            f"{url}: unsupported normalised scene schema "
            f"{raw.get('schema') if isinstance(raw, dict) else type(raw).__name__!r} (expected {NORMALIZED_SCHEMA})"
        )
    return SceneHeader.model_validate(raw)


def iter_normalized(url: str) -> tuple[SceneHeader, Iterator[SceneObject]]:
    """Open a normalised scene: its header now, its objects as a lazy iterator."""
    f = storage.open_read(url, "r")
    try:
        header = _header(url, f.readline())
    except BaseException:
        f.close()
        raise

    def objects() -> Iterator[SceneObject]:
        with f:
            for line in f:
                if line.strip():
                    yield SceneObject.model_validate_json(line)

    return header, objects()


def read_header(url: str) -> SceneHeader:
    """The scene's header line only (scene id, units, object count), without reading objects."""
    with storage.open_read(url, "r") as f:
        return _header(url, f.readline())


def load_scene(url: str) -> Scene:
    header, objs = iter_normalized(url)
    return Scene(header=header, objects=tuple(objs))


def _object_line(obj: SceneObject | dict[str, Any] | str) -> str:
    if isinstance(obj, str):  # already a line (ManifestIngest.record_lines)
        return obj
    if isinstance(obj, dict):  # the JSON form of a SceneObject (what the ingest produces)
        return record_line(obj)
    return obj.model_dump_json()


def write_normalized_streaming(url: str, objects: Iterable[SceneObject | dict[str, Any] | str],
                               header_fn: Callable[[], SceneHeader]) -> int:
    """Write a scene whose header is known only after its objects (object_count, checks that
    need every object): objects go to a local temporary file first, then header + objects are
    written atomically. Nothing appears at `url` if iterating `objects` raises."""
    n = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for obj in objects:
            spool.write(_object_line(obj) + "\n")
            n += 1
        header = header_fn()
        spool.seek(0)
        with storage.atomic_writer(url, "w") as f:
            f.write(header.model_dump_json(by_alias=True) + "\n")
            shutil.copyfileobj(spool, f, 1 << 20)
    return n
