"""End to end: examples/kitchen.json through the scene, simready and usd stages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pxr import Usd, UsdPhysics

from blueprint_pipeline.contract import StageContext

from blueprint_pipeline.pipeline import STAGE_NAMES, stage_by_name
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.simready.io import load_physics

KITCHEN = Path(__file__).resolve().parents[1] / "examples" / "kitchen.json"


@pytest.mark.skipif(not KITCHEN.exists(), reason="examples/kitchen.json not present")
def test_kitchen_through_scene_simready_usd(tmp_path):
    assert STAGE_NAMES.index("scene") < STAGE_NAMES.index("simready") < STAGE_NAMES.index("usd")
    ctx = StageContext(manifest_url=str(KITCHEN), out_url=str(tmp_path))
    for name in ("scene", "simready", "usd"):
        stage_by_name(name).run(ctx)
    scene = load_scene(str(tmp_path / "scene" / "normalized.jsonl"))
    physics = load_physics(str(tmp_path / "simready" / "physics.json"))
    assert set(physics.objects) == {o.id for o in scene.objects}
    for obj in scene.objects:
        p = physics.objects[obj.id]
        assert 0.001 <= p.mass_kg <= 1000 and 0 <= p.dynamic_friction <= p.static_friction <= 2
        assert p.is_dynamic == obj.sim_role.is_dynamic
        assert set(p.sources) >= {"mass_kg", "static_friction", "inertia_diag_kg_m2", "material"}
    stage = Usd.Stage.Open(str(tmp_path / "usd" / "scene.usda"))
    objects = stage.GetPrimAtPath("/World/Objects").GetChildren()
    assert len(objects) == len(scene.objects)
    masses = sorted(UsdPhysics.MassAPI(p).GetMassAttr().Get() for p in objects)
    assert masses == pytest.approx(sorted(p.mass_kg for p in physics.objects.values()), rel=1e-6)
    joints = [p for p in stage.GetPrimAtPath("/World/Joints").GetChildren()] if stage.GetPrimAtPath("/World/Joints") else []
    assert len(joints) == sum(1 for o in scene.objects if o.articulation is not None)
