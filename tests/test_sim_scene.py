"""The MuJoCo scene built from scene + physics records: values from the records, resting contacts."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.robots import FRANKA
from blueprint_pipeline.robots.builder import PAD_CONDIM
from blueprint_pipeline.sim.scene_builder import (
    FPS,
    STEPS_PER_FRAME,
    TIMESTEP_S,
    build_sim_scene,
)
from blueprint_pipeline.testing.tabletop import tabletop_scene
from blueprint_pipeline.simready.records import PhysicsFile


@pytest.fixture(scope="module")
def built():
    scene, physics, config = tabletop_scene()
    pl = config.tasks[0].robot_placements["franka"]
    return scene, physics, build_sim_scene(scene, physics, FRANKA, pl.base_position_m, pl.base_orientation_wxyz)


def test_frame_is_a_whole_number_of_steps():
    assert STEPS_PER_FRAME * TIMESTEP_S == pytest.approx(1.0 / FPS, abs=1e-15)


def test_masses_frictions_and_roles_come_from_the_records(built):
    _, physics, sim = built
    m = sim.model
    assert sim.dynamic_ids == ["box_target", "mug", "box_a", "box_b"]
    assert sim.fixed_ids == ["table"]
    for oid in sim.dynamic_ids:
        rec = physics.objects[oid]
        assert m.body_mass[sim.body_id(oid)] == pytest.approx(rec.mass_kg)
        assert sorted(m.body_inertia[sim.body_id(oid)]) == pytest.approx(sorted(rec.inertia_diag_kg_m2))
        assert m.geom_friction[sim.geom_id(oid), 0] == pytest.approx(rec.static_friction)
        assert m.geom_condim[sim.geom_id(oid)] == PAD_CONDIM == 4  # sliding + torsional friction
        assert m.jnt_type[m.body_jntadr[sim.body_id(oid)]] == mujoco.mjtJoint.mjJNT_FREE
    assert m.geom_type[sim.geom_id("mug")] == mujoco.mjtGeom.mjGEOM_CYLINDER
    assert m.body_jntnum[sim.body_id("table")] == 0  # fixed collider
    assert m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and m.opt.impratio == 10
    assert sim.support_of == {"box_target": "table", "mug": "table", "box_a": "table", "box_b": "table"}


def test_objects_rest_on_their_support_without_interpenetration(built):
    _, _, sim = built
    m = sim.model
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_forward(m, d)
    start = {o: d.xpos[sim.body_id(o)].copy() for o in sim.dynamic_ids}
    for _ in range(int(0.5 / TIMESTEP_S)):
        mujoco.mj_step(m, d)
    mujoco.mj_forward(m, d)
    table = sim.geom_id("table")
    for oid in sim.dynamic_ids:
        assert np.linalg.norm(d.xpos[sim.body_id(oid)] - start[oid]) < 1e-3, oid
        g = sim.geom_id(oid)
        touching = [c for c in d.contact[:d.ncon] if {c.geom1, c.geom2} == {g, table}]
        assert touching, f"{oid} does not touch the table"
        assert min(c.dist for c in touching) > -1e-3  # less than 1 mm of penetration
        vadr = sim.free_qvel_adr(oid)
        assert np.linalg.norm(d.qvel[vadr:vadr + 6]) < 1e-2


def test_missing_physics_record_is_invalid_input():
    scene, physics, _ = tabletop_scene()
    partial = PhysicsFile(scene_id="tabletop", estimator="table",
                          objects={k: v for k, v in physics.objects.items() if k != "mug"})
    with pytest.raises(InvalidInputError) as err:
        build_sim_scene(scene, partial, FRANKA, (0, 0, 0.75), (1, 0, 0, 0))
    assert "mug" in str(err.value)


def test_pedestal_lifts_a_floor_standing_base_to_the_mount_height():
    scene, physics, _ = tabletop_scene()
    sim = build_sim_scene(scene, physics, FRANKA, (-0.3, 0.0, 0.0), (1, 0, 0, 0), mount_top_z_m=0.75)
    d = mujoco.MjData(sim.model)
    mujoco.mj_kinematics(sim.model, d)
    assert d.body(sim.names.base_body).xpos[2] == pytest.approx(0.75)
    assert sim.model.geom("robot_pedestal").size[2] == pytest.approx(0.375)
