"""The procedural meshes (`testing/mesh_assets.py`) and the committed `examples/meshed_kitchen/` made from them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import trimesh

from blueprint_pipeline.cli import main

EXAMPLE = Path(__file__).parent.parent / "examples" / "meshed_kitchen"
MANIFEST = EXAMPLE / "meshed_kitchen.json"


@pytest.fixture(scope="module")
def mesh_assets():
    from blueprint_pipeline.testing import mesh_assets

    return mesh_assets


@pytest.fixture(scope="module")
def meshes(mesh_assets):
    return {name: make() for name, make in mesh_assets.MESHES.items()}


def test_every_mesh_is_a_small_closed_solid(meshes) -> None:
    assert set(meshes) == {"mug", "bowl", "bottle", "box", "drawer"}
    for name, textured in meshes.items():
        # closed once vertices split along texture seams (the box's faces) are merged by position
        mesh = trimesh.Trimesh(textured.vertices, textured.faces, process=True)
        assert mesh.is_watertight and mesh.is_winding_consistent, name
        assert mesh.volume > 0, name
        assert len(mesh.faces) < 5000, name


def test_mug_has_a_handle_and_a_cavity(meshes) -> None:
    mug = meshes["mug"]
    width, height, depth = mug.extents  # y-up: x, height, z
    assert depth == pytest.approx(0.075, abs=1e-6) and height == pytest.approx(0.095, abs=1e-6)
    assert 0.105 <= width <= 0.11  # the handle reaches past the 7.5 cm body
    solid = math.pi * (depth / 2) ** 2 * height
    assert mug.volume < 0.4 * solid


def test_bowl_is_hollow_and_the_drawer_faces_plus_z(meshes) -> None:
    bowl = meshes["bowl"]
    width, height, _ = bowl.extents
    assert bowl.volume < 0.4 * math.pi * (width / 2) ** 2 * height
    drawer = meshes["drawer"]
    assert drawer.extents == pytest.approx((0.40, 0.12, 0.48), abs=1e-6)
    front = drawer.vertices[drawer.vertices[:, 2] > drawer.bounds[1][2] - 0.02]  # the handle only
    assert front[:, 0].max() - front[:, 0].min() < 0.2


def test_the_committed_example_is_what_the_generator_writes(mesh_assets, tmp_path: Path) -> None:
    path = Path(mesh_assets.write_meshed_kitchen(tmp_path))
    assert path == tmp_path / "meshed_kitchen.json"
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*") if p.is_file())
    assert fresh == committed
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (EXAMPLE / rel).read_bytes(), rel


def test_manifest_sizes_are_the_meshes_boxes(meshes, mesh_assets) -> None:
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["scene"]["coordinate_frame"] == "z_up"
    meshed = [o for o in manifest["objects"] if "asset" in o]
    assert {o["asset"]["path"] for o in meshed} == {f"assets/{n}.glb" for n in meshes}
    for o in meshed:
        name = Path(o["asset"]["path"]).stem
        assert o["dimensions_est"] == mesh_assets.manifest_dimensions(meshes[name]), o["id"]
        assert (EXAMPLE / o["asset"]["path"]).is_file()


def test_validate_accepts_the_committed_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", str(MANIFEST), "--strict"])
    out = " ".join(capsys.readouterr().out.split())
    assert int(info.value.code or 0) == 0
    assert "valid manifest meshed_kitchen" in out and "no warnings" in out
