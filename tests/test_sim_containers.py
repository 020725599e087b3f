"""Containers are hollow shells: what the scene puts inside a bowl stays inside it at settle."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from blueprint_pipeline.robots import FRANKA
from blueprint_pipeline.scene.records import Affordance, Scene, SceneHeader, SimRole
from blueprint_pipeline.sim.scene_builder import SimScene, build_sim_scene
from blueprint_pipeline.testing.tabletop import TABLE_TOP_Z_M, _object, _physics
from blueprint_pipeline.simready.records import ColliderShape, PhysicsFile

BOWL_SIZE = (0.22, 0.22, 0.09)
APPLE_D = 0.075
BOWL_XY = (0.55, 0.1)


def _bowl_scene(bowl_collider=ColliderShape.CYLINDER, bowl_category="bowl", affordances=("Container",)):
    z = TABLE_TOP_Z_M
    table = _object("table", "table", SimRole.STATIC, (0.55, 0.0, z / 2), (0.9, 1.2, z))
    bowl = _object("bowl", bowl_category, SimRole.MANIPULABLE_OBJECT, (*BOWL_XY, z + BOWL_SIZE[2] / 2), BOWL_SIZE)
    bowl = bowl.model_copy(update={"affordances": tuple(Affordance(type=a) for a in affordances)})
    # the apple's bottom 1 cm above the bowl's bottom, inside it
    apple = _object("apple", "apple", SimRole.MANIPULABLE_OBJECT, (*BOWL_XY, z + 0.01 + APPLE_D / 2), (APPLE_D,) * 3)
    objects = (table, bowl, apple)
    phys = [_physics(table, 40.0, 0.6, ColliderShape.BOX, False), _physics(bowl, 0.4, 0.6, bowl_collider, True),
            _physics(apple, 0.15, 0.6, ColliderShape.SPHERE, True)]
    header = SceneHeader(scene_id="bowl", manifest_version="test", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objects))
    return Scene(header=header, objects=objects), PhysicsFile(scene_id="bowl", estimator="table",
                                                              objects={p.object_id: p for p in phys})


def _build(**kw) -> SimScene:
    scene, physics = _bowl_scene(**kw)
    # the robot stands on the floor well away from the table
    return build_sim_scene(scene, physics, FRANKA, (-1.5, -1.5, 0.0), (1, 0, 0, 0))


def _settle(sim: SimScene, seconds: float = 1.0):
    m = sim.model
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    mujoco.mj_forward(m, d)
    fastest = 0.0
    for _ in range(int(round(seconds / m.opt.timestep))):
        mujoco.mj_step(m, d)
        for oid in sim.dynamic_ids:
            a = sim.free_qvel_adr(oid)
            fastest = max(fastest, float(np.linalg.norm(d.qvel[a:a + 3])))
    return d, fastest


@pytest.mark.parametrize("collider", [ColliderShape.CYLINDER, ColliderShape.BOX])
def test_apple_stays_in_the_bowl(collider):
    sim = _build(bowl_collider=collider)
    d, fastest = _settle(sim)
    bowl = d.xpos[sim.body_id("bowl")]
    apple = d.xpos[sim.body_id("apple")]
    inner_half = BOWL_SIZE[0] / 2 - 0.009  # inside the walls
    assert np.linalg.norm(apple[:2] - bowl[:2]) < inner_half - APPLE_D / 2 + 0.005
    bowl_bottom, bowl_top = bowl[2] - BOWL_SIZE[2] / 2, bowl[2] + BOWL_SIZE[2] / 2
    apple_bottom = apple[2] - APPLE_D / 2
    assert bowl_bottom < apple_bottom < bowl_bottom + 0.015  # resting on the bowl's floor slab
    assert apple[2] < bowl_top  # its centre below the rim
    assert bowl[2] == pytest.approx(TABLE_TOP_Z_M + BOWL_SIZE[2] / 2, abs=0.003)  # the bowl on the table
    assert np.linalg.norm(bowl[:2] - BOWL_XY) < 0.005
    assert fastest < 1.0
    # the apple rests on the bowl's named collider (its floor slab)
    g_apple, g_bowl = sim.geom_id("apple"), sim.geom_id("bowl")
    assert any({int(c.geom1), int(c.geom2)} == {g_apple, g_bowl} for c in d.contact[:d.ncon])


def test_bowl_is_a_shell_within_its_extents():
    sim = _build()
    m, d = sim.model, mujoco.MjData(sim.model)
    mujoco.mj_forward(m, d)
    ids = sim.object_geom_ids("bowl")
    assert len(ids) == 13  # floor slab + 12 wall segments
    assert [m.geom(g).name for g in ids[1:]] == [f"obj:bowl:wall{k}" for k in range(12)]
    for g in ids:
        assert m.geom_friction[g, 0] == m.geom_friction[ids[0], 0]
        assert m.geom_condim[g] == m.geom_condim[ids[0]]
        assert (m.geom_contype[g], m.geom_conaffinity[g]) == (m.geom_contype[ids[0]], m.geom_conaffinity[ids[0]])
        np.testing.assert_array_equal(m.geom_solref[g], m.geom_solref[ids[0]])
        np.testing.assert_array_equal(m.geom_solimp[g], m.geom_solimp[ids[0]])
    # every wall corner stays inside the bowl's outer cylinder
    centre = d.xpos[sim.body_id("bowl")]
    for g in ids[1:]:
        half = m.geom_size[g]
        for sx in (-1, 1):
            for sy in (-1, 1):
                corner = d.geom_xpos[g] + d.geom_xmat[g].reshape(3, 3) @ np.array([sx * half[0], sy * half[1], 0])
                assert np.linalg.norm(corner[:2] - centre[:2]) <= BOWL_SIZE[0] / 2 + 1e-9


def test_bowl_mass_and_inertia_are_the_records():
    scene, physics = _bowl_scene()
    sim = build_sim_scene(scene, physics, FRANKA, (-1.5, -1.5, 0.0), (1, 0, 0, 0))
    m, rec = sim.model, physics.objects["bowl"]
    b = sim.body_id("bowl")
    assert m.body_mass[b] == pytest.approx(rec.mass_kg, rel=1e-9)
    np.testing.assert_allclose(m.body_inertia[b], rec.inertia_diag_kg_m2, rtol=1e-9)
    np.testing.assert_allclose(m.body_ipos[b], rec.center_of_mass_m, atol=1e-12)


@pytest.mark.parametrize(("category", "affordances", "size", "hollow"), [
    ("bowl", (), BOWL_SIZE, True),  # by category alone
    ("fruit basket", (), BOWL_SIZE, True),
    ("cardboard box", (), BOWL_SIZE, False),  # a closed box stays solid
    ("box", ("Container",), BOWL_SIZE, True),
    ("potato", (), BOWL_SIZE, False),  # whole words only
    ("mug", ("Fillable",), (0.08, 0.08, 0.1), False),  # too narrow: cups and mugs stay solid
])
def test_which_objects_are_hollow(category, affordances, size, hollow):
    from blueprint_pipeline.simready.containers import is_container

    scene, physics = _bowl_scene(bowl_category=category, affordances=affordances)
    obj = scene.by_id()["bowl"]
    rec = physics.objects["bowl"].model_copy(update={"collider_size_m": size})
    assert is_container(obj, rec) is hollow
