"""Hostile manifests: each gives its clear error and exit code 2 through the CLI, never a
traceback, and `normalize` writes nothing. Small cases live in tests/hostile/; the large ones
(10 MB strings, deep nesting, hundreds of errors) are generated here in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from blueprint_pipeline.cli import main

HOSTILE = Path(__file__).parent / "hostile"

# file -> a phrase the error must contain (paths included where the problem has one)
EXPECTED = {
    "path_traversal.json": "objects[1].asset.path: must not contain '..'",
    "absolute_path.json": "objects[1].asset.path: must be relative to the asset root, not absolute",
    "url_scheme.json": "objects[1].asset.path: URL scheme 'file' is not allowed",
    "windows_path.json": "objects[1].asset.path: must use '/' as separator",
    "huge_number.json": "objects[1].transform.position.x: must be <= 1e+06 (absurd magnitude)",
    "zero_scale.json": "objects[1].transform.scale.y: must be > 0",
    "negative_dimensions.json": "objects[0].dimensions_est.height: must be > 0",
    "zero_quaternion.json": "objects[1].transform.rotation_quaternion: quaternion has zero norm",
    "unknown_sim_role.json": "objects[1].sim_role: unknown value 'robot_overlord'",
    "limits_reversed.json": "objects[0].articulation.limits: lower (1.5) must be < upper (0.0)",
    "missing_relationship_target.json": "objects[1].relationships[0].object_id: names object 'shelf_9'",
    "duplicate_ids.json": "objects[1].id: duplicate id 'table' (first used by objects[0])",
    "bad_id.json": "objects[1].id: must be 1-128 characters",
    "control_characters.json": "objects[1].name: contains a control character (U+0007",
    "position_is_string.json": "objects[1].transform.position.x: must be a number, got str",
    "missing_transform.json": "objects[1].transform: is required",
    "both_rotations.json": "objects[1].transform: give rotation_quaternion or rotation_euler, not both",
    "unknown_frame.json": "scene.coordinate_frame: unknown value 'x_up'",
    "bad_version.json": "version: 'one' must match",
    "nan.json": "objects: NaN is not a JSON number",
    "infinity.json": "objects: -Infinity is not a JSON number",
    "overflow_number.json": "objects: a number is too large for a finite float",
    "duplicate_keys.json": "objects[1]: duplicate key 'id' in one JSON object",
    "invalid_utf8.json": "not valid UTF-8 (byte",
    "lone_surrogate.json": "a string holds a lone UTF-16 surrogate escape, which is not Unicode",
    "bom.json": "starts with a UTF-8 byte-order mark",
    "utf16.json": "is UTF-16/UTF-32 encoded",
    "truncated.json": "ends in the middle of the JSON document (truncated?)",
    "empty.json": "the file is empty",
    "top_level_array.json": "the top level must be a JSON object, got an array",
    "top_level_string.json": "the top level must be a JSON object, got a string",
    "objects_not_array.json": "objects: must be an array, got an object",
    "trailing_garbage.json": "unexpected data after the end of the JSON document",
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def assert_clean_error(code: int, out: str, err: str, phrase: str, max_lines: int = 40) -> None:
    assert code == 2, (out, err)
    text = " ".join(err.split())  # rich may wrap long lines
    assert " ".join(phrase.split()) in text, err
    assert "Traceback" not in err + out
    assert len(err.splitlines()) < max_lines  # one screen, or the capped list


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in HOSTILE.iterdir() if p.suffix == ".json"}
    assert on_disk - {"misspelt_key.json"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("threshold_mb", ["10", "0"])  # in memory, and streamed
def test_hostile_file_gives_clear_error_and_writes_nothing(name: str, threshold_mb: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    manifest = str(HOSTILE / name)
    code, out, err = run_cli(["validate", manifest, "--stream-threshold-mb", threshold_mb], capsys)
    assert_clean_error(code, out, err, EXPECTED[name])
    target = tmp_path / "normalized.jsonl"
    code, out, err = run_cli(["normalize", manifest, "-o", str(target), "--stream-threshold-mb", threshold_mb], capsys)
    assert_clean_error(code, out, err, EXPECTED[name])
    assert list(tmp_path.iterdir()) == []  # not even a temporary file left behind


def test_misspelt_key_is_a_warning_by_default_and_an_error_in_strict_mode(capsys: pytest.CaptureFixture[str]) -> None:
    manifest = str(HOSTILE / "misspelt_key.json")
    code, out, err = run_cli(["validate", manifest], capsys)
    assert code == 0
    assert "objects[*].transform.scael: unknown key kept under extras (did you mean 'scale'?)" in " ".join(out.split())
    code, out, err = run_cli(["validate", manifest, "--strict"], capsys)
    assert_clean_error(code, out, err, "objects[1].transform.scael: unknown key; did you mean 'scale'?")


def _manifest(objects: list[dict]) -> dict:
    return {"version": "1.0.0", "scene_id": "big", "scene": {"coordinate_frame": "z_up"}, "objects": objects}


def _obj(i: int, **over: object) -> dict:
    o = {"id": f"o{i}", "sim_role": "static", "category": "box",
         "transform": {"position": {"x": float(i), "y": 0.0, "z": 0.5}},
         "dimensions_est": {"width": 0.5, "depth": 0.5, "height": 1.0}}
    o.update(over)
    return o


@pytest.mark.parametrize("threshold_mb", ["100", "0"])
def test_ten_megabyte_strings_are_rejected(threshold_mb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = "A" * (10 * 1024 * 1024)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_manifest([_obj(0, name=big), _obj(1, physics_hints={"note": big})])))
    code, out, err = run_cli(["validate", str(path), "--stream-threshold-mb", threshold_mb], capsys)
    assert_clean_error(code, out, err, "objects[0].name: is too long (10485760 characters; at most 256)")
    assert "objects[1].physics_hints.note: string is too long (10485760 characters" in " ".join(err.split())
    assert big[:1000] not in err  # the input is never echoed


@pytest.mark.parametrize("where", ["objects", "metadata"])
@pytest.mark.parametrize("threshold_mb", ["100", "0"])
def test_deep_nesting_is_rejected_without_exhausting_memory(where: str, threshold_mb: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    depth = 500_000  # prefix-based parsers need O(depth^2) memory; this must fail fast instead
    nested = "[" * depth + "]" * depth
    head = '{"version": "1.0.0", "scene_id": "deep", "scene": {"coordinate_frame": "z_up"}, '
    if where == "objects":
        text = head + '"objects": [{"id": "a", "physics_hints": {"x": ' + nested + "}}]}"
    else:
        text = head + '"metadata": ' + nested + ', "objects": []}'
    path = tmp_path / "deep.json"
    path.write_text(text)
    code, out, err = run_cli(["validate", str(path), "--stream-threshold-mb", threshold_mb], capsys)
    assert_clean_error(code, out, err, f"{where}: nested more than 64 levels deep")


def test_problems_are_capped_at_100_with_a_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects = [_obj(i, transform={"position": {"x": 0, "y": 0, "z": 0}, "scale": {"x": 1, "y": -1, "z": 1}})
               for i in range(130)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(_manifest(objects)))
    code, out, err = run_cli(["validate", str(path)], capsys)
    assert_clean_error(code, out, err, "130 problems found", max_lines=103)  # head + 100 + "... and 30 more"
    assert "objects[0].transform.scale.y: must be > 0" in err
    assert "objects[99].transform.scale.y: must be > 0" in err
    assert "objects[100]." not in err
    assert "... and 30 more problems" in err


def test_every_problem_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects = [_obj(0), _obj(1, sim_role="robot"), _obj(0),
               _obj(3, relationships=[{"type": "on", "object_id": "nowhere"}]),
               _obj(4, dimensions_est={"width": 0, "depth": 1, "height": 1})]
    path = tmp_path / "several.json"
    path.write_text(json.dumps(_manifest(objects)))
    code, _, err = run_cli(["validate", str(path)], capsys)
    text = " ".join(err.split())
    assert code == 2
    for phrase in ("4 problems found", "objects[1].sim_role: unknown value 'robot'",
                   "objects[2].id: duplicate id 'o0' (first used by objects[0])",
                   "objects[3].relationships[0].object_id: names object 'nowhere'",
                   "objects[4].dimensions_est.width: must be > 0"):
        assert phrase in text


def test_real_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    out_file = tmp_path / "n.jsonl"
    script = Path(sys.executable).parent / "blueprint"  # the installed console script
    proc = subprocess.run([str(script), "normalize", str(HOSTILE / "nan.json"),
                           "-o", str(out_file)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "NaN is not a JSON number" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out_file.exists()
