"""The scenes of a batch: a folder of manifests (`*.json`) or a text file listing manifest
paths or URLs (one a line; blank lines and `#` comments ignored; relative paths are relative
to the list's folder and may not leave it). Each scene's id (the manifest's top-level
`scene_id`) names its output folder, so ids are checked and must be unique before any work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ijson

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError, Problem

SCENE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class BatchScene:
    scene_id: str
    manifest_url: str


def _parent(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[0] if "/" in url.rstrip("/") else "."


def manifest_urls(spec: str) -> list[str]:
    if not storage.exists(spec):
        raise InvalidInputError(f"SCENES: {spec!r} does not exist (a folder of manifests or a text file of paths)")
    if storage.is_dir(spec):
        urls = [storage.join(spec, n) for n in storage.listdir(spec) if n.endswith(".json")]
        if not urls:
            raise InvalidInputError(f"SCENES: folder {spec!r} holds no *.json manifests")
        return urls
    urls = []
    for n, raw in enumerate(storage.read_text(spec).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "://" in line or line.startswith("/"):
            urls.append(line)
        else:
            try:
                urls.append(storage.safe_join(_parent(spec), line))
            except InvalidInputError as exc:
                raise InvalidInputError(f"SCENES: {spec} line {n}: {exc}") from None
    if not urls:
        raise InvalidInputError(f"SCENES: {spec!r} lists no manifests")
    return urls


def read_scene_id(url: str) -> str:
    """The manifest's top-level `scene_id`, streamed (a huge manifest costs nothing)."""
    with storage.open_read(url, "rb") as f:
        for prefix, event, value in ijson.parse(f):
            if prefix == "scene_id":
                if event != "string" or not SCENE_ID_RE.match(value):
                    raise ValueError(f"scene_id {value!r} must match {SCENE_ID_RE.pattern}")
                return str(value)
            if prefix == "" and event == "end_map":
                break
    raise ValueError("scene_id: missing (top-level field)")


def list_scenes(spec: str) -> list[BatchScene]:
    """Every scene of the batch in listing order; InvalidInputError naming each bad entry."""
    scenes: list[BatchScene] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for url in manifest_urls(spec):
        try:
            if not storage.exists(url):
                raise ValueError("does not exist")
            sid = read_scene_id(url)
        except (ValueError, OSError, ijson.JSONError) as exc:
            problems.append(Problem(url, str(exc)))
            continue
        if sid in seen:
            problems.append(Problem(url, f"scene_id {sid!r} is also the id of {seen[sid]}"))
            continue
        seen[sid] = url
        scenes.append(BatchScene(sid, url))
    if problems:
        raise InvalidInputError(f"SCENES: {len(problems)} bad manifest(s) in {spec}", problems[:20],
                                omitted=max(0, len(problems) - 20))
    return scenes
