"""Manifests shaped like the reference system's own files (tests/fixtures/original_style/, our own
content in its structure: field names, nesting, optional fields, units):

- golden_mock: its golden mock-scene input (y-up, quaternion, scale, a missing .usd asset, mass under
  `physics.mass`, material under `physics_hints`, string affordances, empty relationships);
- stage1_kitchen / stage1_office / stage1_warehouse: its mock stage-1 generator's output (every
  object a manipulable_object of `mass` 1 or given, `articulation: {"type": "fixed"}`, generic
  material, metadata markers), with assets under assets/objects/<id>/ as glTF, OBJ and centimetre
  z-up USD, most objects without `dimensions_est`;
- adapter_kitchen: its Genie Sim adapter tests (rotation_euler, `physics.friction`, an Openable
  affordance object with params, a revolute door, .usdz paths, `source`);
- loader_flags: its scene-manifest loader tests and schema (hint-only articulation on an
  articulated_furniture without sizes or asset file, a deformable towel sized from its asset,
  assets/packs, pack_name, candidates, instance_id, custom_labels, placement, variation_candidate).

Each is accepted by `blueprint validate` (also with --strict, since every key is in the reference's
schema), and `blueprint run` reaches exit 0 or the episodes stage's no-feasible-task error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blueprint_pipeline.cli import main
from blueprint_pipeline.scene.ingest import ManifestIngest

FIXTURES = Path(__file__).parent / "fixtures" / "original_style"
SCENES = ["golden_mock", "stage1_kitchen", "stage1_office", "stage1_warehouse", "adapter_kitchen", "loader_flags"]

# scene -> (objects simulated, objects kept out of simulation)
EXPECTED = {
    "golden_mock": (2, []),
    "stage1_kitchen": (3, []),
    "stage1_office": (3, []),
    "stage1_warehouse": (3, []),
    "adapter_kitchen": (3, []),
    "loader_flags": (3, ["wall_cabinet_001"]),
}


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), " ".join(out.split()), err


def test_the_fixtures_are_all_here() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if (p / "scene_manifest.json").is_file()) == sorted(SCENES)


@pytest.mark.parametrize("scene", SCENES)
@pytest.mark.parametrize("strict", [False, True])
def test_blueprint_validate_accepts_each_fixture(scene: str, strict: bool, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = FIXTURES / scene / "scene_manifest.json"
    code, out, err = _cli(["validate", str(manifest), *(["--strict"] if strict else [])], capsys)
    assert code == 0, err
    assert "valid manifest" in out
    assert "unknown key" not in out  # every key is one the reference's schema defines


@pytest.mark.parametrize("scene", SCENES)
def test_each_fixture_normalises_as_expected(scene: str) -> None:
    simulated, excluded = EXPECTED[scene]
    ing = ManifestIngest(str(FIXTURES / scene / "scene_manifest.json"))
    records = list(ing.records())
    assert len(records) == simulated
    assert [e["id"] for e in ing.excluded] == excluded
    # the layouts are plausible: no floating, sunk or overlapping object
    assert not [w for w in ing.problems.warnings if "cm" in w], ing.problems.warnings


def test_stage1_assets_give_the_sizes(tmp_path: Path) -> None:
    """glTF (y-up metres), OBJ (manifest units and axes) and centimetre z-up USD all give the sizes
    the generator laid the scene out with (width, height, depth in y-up)."""
    def extents(scene: str) -> dict[str, list[float]]:
        return {r["id"]: r["extents_m"] for r in ManifestIngest(str(FIXTURES / scene / "scene_manifest.json")).records()}

    assert extents("stage1_kitchen") == {"island_0": [1.6, 0.8, 0.92], "spice_jar_0": [0.05, 0.05, 0.11],
                                         "kettle_0": [0.22, 0.16, 0.24]}
    office = extents("stage1_office")
    assert office["stapler_0"] == [0.04, 0.15, 0.05] and office["monitor_0"] == [0.55, 0.06, 0.38]
    assert extents("stage1_warehouse") == {"pallet_0": [1.2, 1.0, 0.14], "tote_0": [0.6, 0.4, 0.3],
                                           "parcel_0": [0.06, 0.06, 0.06]}


def test_loader_flags_keeps_hints_and_the_deformable_as_static() -> None:
    records = {r["id"]: r for r in ManifestIngest(str(FIXTURES / "loader_flags" / "scene_manifest.json")).records()}
    towel = records["towel_001"]
    assert towel["sim_role"] == "static" and towel["extras"]["declared_sim_role"] == "deformable_object"
    assert towel["extents_m"] == [0.5, 0.35, 0.012]
    table = records["folding_table_001"]
    assert table["extras"]["semantics.instance_id"] == "table-1"
    assert table["extras"]["must_be_separate_asset"] is True
    assert table["asset"]["extras"]["pack_name"] == "laundry_pack"


def test_the_reference_samples_degrees_are_refused_with_the_fix(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The adapter tests' door writes limits 0-90 without euler_units: refused, field named."""
    doc = json.loads((FIXTURES / "adapter_kitchen" / "scene_manifest.json").read_text())
    doc["objects"][2]["articulation"]["limits"] = {"lower": 0, "upper": 90}
    path = tmp_path / "scene_manifest.json"
    path.write_text(json.dumps(doc))
    code, _, err = _cli(["validate", str(path)], capsys)
    assert code == 2
    assert "objects[2].articulation.limits.upper: 90 rad is more than a full turn" in err
    assert "Traceback" not in err


NO_FEASIBLE_TASK = "has no task the franka can simulate"


@pytest.mark.parametrize("scene", SCENES)
def test_blueprint_run_end_to_end(scene: str, tmp_path: Path) -> None:
    """A real run of every stage: exit 0, or exit 2 from the episodes stage with the per-object
    reasons why no task is feasible (the reference's stage-1 scenes make every object a free body).
    About 2-4 s per scene on a 2-core machine, so not marked slow."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "blueprint_pipeline.cli", "run", str(FIXTURES / scene / "scene_manifest.json"),
         "--out", str(out), "--no-render", "--episodes", "2", "--workers", "1", "--log-json"],
        capture_output=True, text=True, env=env, check=False)
    assert "Traceback" not in proc.stderr
    for stage in ("scene", "simready", "usd", "geniesim"):
        assert (out / stage / ".complete.json").is_file(), (stage, proc.stderr[-2000:])
    if proc.returncode == 0:
        assert (out / "dataset" / ".complete.json").is_file() and (out / "report" / ".complete.json").is_file()
    else:
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert NO_FEASIBLE_TASK in proc.stderr
        failed = json.loads((out / "episodes" / ".failed.json").read_text())
        assert NO_FEASIBLE_TASK in failed["message"]
    header = json.loads((out / "scene" / "normalized.jsonl").read_text().splitlines()[0])
    assert [e["id"] for e in header["excluded_objects"]] == EXPECTED[scene][1]
