"""Streaming ingest: same records and same errors as the in-memory path, any key order, flat
memory, deterministic synthetic manifests."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.scene.synth import write_synthetic_manifest

EXAMPLES = Path(__file__).parent.parent / "examples"
HOSTILE = Path(__file__).parent / "hostile"


def run(path: Path, streamed: bool, strict: bool = False) -> tuple[list[dict], dict, list[str]]:
    ing = ManifestIngest(str(path), strict=strict, stream_threshold_bytes=0 if streamed else 1 << 30)
    assert ing.raw.streamed is streamed
    records = list(ing.records())
    return records, ing.header_record().model_dump(), ing.problems.warnings


def errors(path: Path, streamed: bool, strict: bool = False) -> str:
    with pytest.raises(InvalidInputError) as info:
        ing = ManifestIngest(str(path), strict=strict, stream_threshold_bytes=0 if streamed else 1 << 30)
        for _ in ing.records():
            pass
    return str(info.value)


@pytest.mark.parametrize("name", ["kitchen", "office", "warehouse"])
def test_examples_stream_and_in_memory_agree(name: str) -> None:
    assert run(EXAMPLES / f"{name}.json", True) == run(EXAMPLES / f"{name}.json", False)


def test_synthetic_stream_and_in_memory_agree(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_synthetic_manifest(str(path), 2000, 3, frame="y_up")
    streamed, in_memory = run(path, True), run(path, False)
    assert len(streamed[0]) == 2000
    assert streamed == in_memory


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("*.json")))
def test_errors_are_identical(name: str) -> None:
    path = HOSTILE / name
    strict = name == "misspelt_key.json"
    assert errors(path, True, strict) == errors(path, False, strict)


def test_unknown_keys_and_warnings_are_identical(tmp_path: Path) -> None:
    m = json.loads((EXAMPLES / "kitchen.json").read_text())
    m["objects"][3]["colour"] = "teal"
    m["objects"][5]["transform"]["scael"] = {"x": 1}
    m["scene"]["lighting"] = "warm"
    m["camera"] = {"fov_deg": 60}
    path = tmp_path / "k.json"
    path.write_text(json.dumps(m))
    a, b = run(path, True), run(path, False)
    assert a == b
    records, header, warnings = a
    assert records[3]["extras"] == {"colour": "teal"}
    assert records[5]["extras"] == {"transform.scael": {"x": 1}}
    assert header["extras"]["camera"] == {"fov_deg": 60} and header["extras"]["scene.lighting"] == "warm"
    assert "objects[*].transform.scael: unknown key kept under extras (did you mean 'scale'?)" in warnings


def test_header_after_objects_is_read_when_streaming(tmp_path: Path) -> None:
    # sort_keys puts metadata, objects before scene, scene_id, version.
    m = json.loads((EXAMPLES / "office.json").read_text())
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps(m, sort_keys=True))
    streamed = run(path, True)
    assert streamed[1]["source_frame"] == "y_up"
    original = run(EXAMPLES / "office.json", False)
    assert streamed[0] == original[0]


def test_synth_is_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    write_synthetic_manifest(str(a), 500, 11)
    write_synthetic_manifest(str(b), 500, 11)
    write_synthetic_manifest(str(c), 500, 12)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert len(json.loads(a.read_text())["objects"]) == 500


def test_synthetic_scene_is_physically_plausible(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_synthetic_manifest(str(path), 1500, 5)
    objs = {o["id"]: o for o in run(path, True)[0]}
    supported = 0
    for o in objs.values():
        for rel in o["relationships"]:
            support = objs[rel["object_id"]]
            assert abs(o["aabb_min_m"][2] - support["aabb_max_m"][2]) < 1e-9  # resting exactly on top
            for k in (0, 1):  # footprint inside the support's top
                assert support["aabb_min_m"][k] <= o["aabb_min_m"][k] and o["aabb_max_m"][k] <= support["aabb_max_m"][k]
            supported += 1
    assert supported > 1000
    assert_no_interpenetration(list(objs.values()))


def assert_no_interpenetration(objs: list[dict], tol: float = 1e-6) -> None:
    """No two world AABBs overlap by more than `tol` on all three axes (touching is fine).
    Sort-and-sweep on x, so this stays fast for thousands of objects."""
    ordered = sorted(objs, key=lambda o: o["aabb_min_m"][0])
    active: list[dict] = []
    for o in ordered:
        active = [a for a in active if a["aabb_max_m"][0] - tol > o["aabb_min_m"][0]]
        for a in active:
            overlap = all(min(a["aabb_max_m"][k], o["aabb_max_m"][k]) - max(a["aabb_min_m"][k], o["aabb_min_m"][k]) > tol
                          for k in range(3))
            assert not overlap, (a["id"], o["id"])
        active.append(o)


def _peak_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        ing = ManifestIngest(str(path), stream_threshold_bytes=0)
        for _ in ing.records():
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_streaming_peak_memory_does_not_grow_with_object_count(tmp_path: Path) -> None:
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    write_synthetic_manifest(str(small), 4_000, 1)
    write_synthetic_manifest(str(large), 40_000, 1)
    peak_small, peak_large = _peak_bytes(small), _peak_bytes(large)
    # Ten times the objects: only the id -> index map (about 150 bytes per id) and the layout
    # check's flat record (scene/plausibility.py: 13 floats, flags and the id, about 260 bytes, kept
    # for at most plausibility.MAX_OBJECTS objects) grow; a parsed object alone is several
    # kilobytes, so holding them would grow by 100+ MB here.
    growth_per_object = (peak_large - peak_small) / 36_000
    assert growth_per_object < 600, (peak_small, peak_large)


@pytest.mark.parametrize(("escape", "valid"), [(r"\ud83d\ude00", True), (r"\ud83dxxxxxx", False), (r"\\ud800", True)])
def test_surrogate_escapes_split_across_read_chunks(escape: str, valid: bool, tmp_path: Path) -> None:
    text = (EXAMPLES / "kitchen.json").read_text()
    anchor = text.index('"notes": "') + len('"notes": "')
    path = tmp_path / "m.json"
    for shift in range(-14, 2):  # the escape ends just before, across, and just after byte 65536
        pad = 65_536 - anchor - len(escape) + shift
        path.write_text(text[:anchor] + "b" * pad + escape + text[anchor:])
        for streamed in (True, False):
            if valid:
                assert len(run(path, streamed)[0]) == 25
            else:
                assert "lone UTF-16 surrogate escape" in errors(path, streamed)


def test_header_scan_reads_brackets_and_escapes_in_strings_across_chunks(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Descriptions full of brackets, escaped quotes and backslashes, of every length across the
    # 64 KiB read chunks: the fast scan must not miscount depth or lose the end of `objects`
    # (and must not leave this valid file to the slower two-pass reader).
    from blueprint_pipeline.scene import reader

    m = json.loads((EXAMPLES / "kitchen.json").read_text())
    noise = '[{"\\]}'
    objects = []
    for i in range(400):
        o = json.loads(json.dumps(m["objects"][i % len(m["objects"])]))
        o["id"] = f"o{i}"
        o["description"] = (noise * (i % 97 + 1))[: i % 500] + "\\"[: i % 2] * 2
        o.pop("relationships", None)
        objects.append(o)
    m["objects"] = objects
    m["metadata"] = {"after": "]]]}}} \\\" [["}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(m, sort_keys=True))
    in_memory = run(path, False)

    def no_fallback(open_bytes: object) -> None:
        raise AssertionError("the header scan gave up on a valid manifest")

    monkeypatch.setattr(reader, "_open_streaming_two_pass", no_fallback)
    streamed = run(path, True)
    assert len(streamed[0]) == 400
    assert streamed == in_memory
    assert streamed[1]["metadata"] == {"after": "]]]}}} \\\" [["}
