"""Finite numbers whose squares or products overflow a float (1e300, 1e308) and subnormal ones
(5e-324): each is a field error (exit 2, the field's path in the message) or a valid value,
never an internal error. The manifests are copies of examples/kitchen.json with one number
changed, checked with `blueprint validate` (in memory and streamed) and `blueprint run --only scene`."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from blueprint_pipeline.cli import main
from blueprint_pipeline.rotations import quat_normalise

KITCHEN = json.loads((Path(__file__).parent.parent / "examples" / "kitchen.json").read_text())
DRAWER = 3  # prismatic articulation, axis [0, -1, 0]
CABINET = 4  # revolute articulation

HUGE = [1e300, -1e300, 1e308, -1.7976931348623157e308, 1e155]  # 1e155**2 already overflows
EXTREME = [1e300, -1e300, 1e308, 5e-324]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out + err


def write(tmp_path: Path, manifest: dict[str, Any]) -> str:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return str(path)


def changed(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    m = copy.deepcopy(KITCHEN)
    target = m
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return m


def dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def numeric_leaves(value: Any, path: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in numeric_leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in numeric_leaves(v, (*path, i))]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [path]
    return []


def assert_field_error(code: int, text: str, field: str) -> None:
    flat = " ".join(text.split())  # rich may wrap long lines
    assert code == 2, text
    assert field in flat, text
    assert "internal error" not in flat and "Traceback" not in text, text
    assert len(text.splitlines()) < 40


def run_every_way(manifest: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str]]:
    return [run_cli(["validate", manifest], capsys),
            run_cli(["validate", manifest, "--stream-threshold-mb", "0"], capsys),
            run_cli(["run", manifest, "--out", str(tmp_path / "out"), "--only", "scene", "--force"], capsys)]


@pytest.mark.parametrize("component", ["w", "x", "y", "z"])
@pytest.mark.parametrize("value", HUGE)
def test_huge_quaternion_component_is_a_field_error(component: str, value: float, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = ("objects", DRAWER, "transform", "rotation_quaternion", component)
    manifest = write(tmp_path, changed(path, value))
    for code, text in run_every_way(manifest, tmp_path, capsys):
        assert_field_error(code, text, f"objects[{DRAWER}].transform.rotation_quaternion.{component}: must be")
    assert not (tmp_path / "out" / "scene" / "normalized.jsonl").exists()


@pytest.mark.parametrize("axis", [[1e200, 0, 0], [0, -1e300, 0], [0, 0, 1e308], [1e155, 1e155, 1e155],
                                  {"x": 1e200, "y": 0, "z": 0}])
def test_huge_articulation_axis_is_a_field_error(axis: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path, changed(("objects", DRAWER, "articulation", "axis"), axis))
    for code, text in run_every_way(manifest, tmp_path, capsys):
        assert_field_error(code, text, f"objects[{DRAWER}].articulation.axis")
        assert "must be" in text


def test_large_but_sane_quaternion_and_axis_are_normalised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = changed(("objects", DRAWER, "transform", "rotation_quaternion"), {"w": 1e5, "x": 0, "y": 0, "z": 1e5})
    m["objects"][DRAWER]["articulation"]["axis"] = [0, -1e6, 0]
    manifest = write(tmp_path, m)
    target = tmp_path / "n.jsonl"
    code, text = run_cli(["normalize", manifest, "-o", str(target)], capsys)
    assert code == 0, text
    drawer = json.loads(target.read_text().splitlines()[1 + DRAWER])
    w, x, y, z = drawer["orientation_wxyz"]
    assert w == pytest.approx(math.sqrt(0.5)) and z == pytest.approx(math.sqrt(0.5)) and x == y == 0
    assert drawer["articulation"]["axis_local"] == [0.0, -1.0, 0.0]


def test_quaternion_normalisation_does_not_overflow() -> None:
    s = math.sqrt(0.5)
    assert quat_normalise((1e300, 0.0, 0.0, 1e300)) == pytest.approx((s, 0.0, 0.0, s))
    assert quat_normalise((-1e308, 1e308, 0.0, 0.0)) == pytest.approx((s, -s, 0.0, 0.0))


OBJECT_FIELDS = [p for i in (0, DRAWER, CABINET) for p in numeric_leaves(KITCHEN["objects"][i], ("objects", i))]
HEADER_FIELDS = numeric_leaves(KITCHEN["scene"], ("scene",))


@pytest.mark.parametrize("path", OBJECT_FIELDS + HEADER_FIELDS, ids=dotted)
def test_extreme_value_in_any_numeric_field_is_valid_or_a_field_error(path: tuple[str | int, ...], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Every number of an object and of the scene header, set to each extreme: exit 0, or exit 2
    naming the field (or the value it belongs to: `transform.position` for a position too far
    once in metres, `articulation.limits` for limits out of order)."""
    for value in EXTREME:
        manifest = write(tmp_path, changed(path, value))
        for code, text in run_every_way(manifest, tmp_path, capsys):
            assert code in (0, 2), (value, text)
            assert "internal error" not in text and "Traceback" not in text, (value, text)
            if code == 2:
                assert dotted(path[:-1]) in " ".join(text.split()), (value, text)
            if math.isfinite(value) and abs(value) >= 1e300:
                assert code == 2, (value, text)  # no field accepts a magnitude like that


def test_real_process_gives_exit_2_for_a_huge_quaternion(tmp_path: Path) -> None:
    manifest = write(tmp_path, changed(("objects", DRAWER, "transform", "rotation_quaternion", "x"), 1e300))
    script = Path(sys.executable).parent / "blueprint"  # the installed console script
    proc = subprocess.run([str(script), "validate", manifest], capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "objects[3].transform.rotation_quaternion.x: must be <= 1e+06" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr + proc.stdout and "internal error" not in proc.stderr
