"""The robots' real meshes (robots/visuals.py): where they are drawn, what renders show, and the
fallback to the primitives without the robot-meshes extra."""

from __future__ import annotations

import numpy as np
import pytest

from blueprint_pipeline.robots import FRANKA, ROBOTS, UR10
from blueprint_pipeline.robots import visuals


@pytest.fixture(scope="module")
def urdfs():
    import yourdfpy

    share = visuals.share_folder()
    assert share is not None, "the robot-meshes extra belongs to the test install"
    return {name: yourdfpy.URDF.load(str(share / d.visual_meshes.urdf), load_meshes=False, build_scene_graph=True)
            for name, d in ROBOTS.items()}


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_every_link_of_the_package_stays_on_its_body_at_any_pose(desc, urdfs):
    """The package's URDF moves its links as our DH-built bodies move (the DH tests check the
    bodies against the published tables): each link's pose in its body's frame is the same at
    random joint angles and finger openings as at home."""
    home = visuals.link_poses(desc, urdfs[desc.name], np.asarray(desc.home_rad), 0.5)
    rng = np.random.default_rng(7)
    lo, hi = np.maximum(desc.lower_rad, -np.pi), np.minimum(desc.upper_rad, np.pi)
    for _ in range(6):
        poses = visuals.link_poses(desc, urdfs[desc.name], rng.uniform(lo, hi), float(rng.uniform()))
        for link, pose in poses.items():
            np.testing.assert_allclose(pose, home[link], atol=1e-6, err_msg=link)


def test_a_dh_table_the_package_disagrees_with_is_found(urdfs):
    """The check above can fail: with the Panda's upper arm 2 cm short in the DH table (d3
    0.316 -> 0.296), the links past the elbow move off their bodies as the arm moves."""
    import dataclasses

    from blueprint_pipeline.robots.dh import DHRow

    wrong = dataclasses.replace(FRANKA, dh=(*FRANKA.dh[:2], DHRow(0, 0.296, np.pi / 2), *FRANKA.dh[3:]))
    home = visuals.link_poses(wrong, urdfs["franka"], np.asarray(FRANKA.home_rad), 0.5)
    q = np.asarray(FRANKA.home_rad) + np.array([0, 0.4, 0.8, 0.8, 0.5, 0, 0])
    moved = visuals.link_poses(wrong, urdfs["franka"], q, 0.5)
    assert np.linalg.norm(moved["panda_link5"][:3, 3] - home["panda_link5"][:3, 3]) > 0.01


def _robot_scene(desc, meshes: bool):
    import mujoco

    from blueprint_pipeline.robots.builder import add_home_key, add_robot, configure_options

    spec = mujoco.MjSpec()
    configure_options(spec, 1 / 480)
    floor = spec.worldbody.add_geom()
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [2, 2, 0.1]
    light = spec.worldbody.add_light()
    light.pos, light.dir = [0, 0, 3], [0, 0, -1]
    add_robot(spec, desc, (0, 0, 0), (1, 0, 0, 0), visuals.robot_visuals(desc) if meshes else None)
    model = add_home_key(spec, desc)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    mujoco.mj_forward(model, data)
    return model, data


@pytest.mark.parametrize("desc, p95_m", [(FRANKA, 0.06), (UR10, 0.03)], ids=["franka", "ur10"])
def test_the_meshes_lie_on_the_collision_primitives(desc, p95_m):
    """Drawn where the physics is: at home, 95% of the meshes' vertices are within `p95_m` of a
    robot primitive (the Panda's joint housings stand out of its link capsules by up to 8.6 cm;
    the UR10's upper arm and forearm collide where its tubes are, 220.9 mm and 49 mm off its DH
    line: with its capsules on the line, 95% were within 18 cm)."""
    import mujoco

    model, data = _robot_scene(desc, meshes=True)
    mesh_geoms = [g for g in range(model.ngeom) if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH]
    kinds = {int(mujoco.mjtGeom.mjGEOM_CAPSULE), int(mujoco.mjtGeom.mjGEOM_BOX), int(mujoco.mjtGeom.mjGEOM_SPHERE)}
    prims = [g for g in range(model.ngeom) if int(model.geom_type[g]) in kinds]
    dist = []
    for g in mesh_geoms:
        mesh = model.geom_dataid[g]
        adr, n = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        pts = model.mesh_vert[adr:adr + n] @ data.geom_xmat[g].reshape(3, 3).T + data.geom_xpos[g]
        dist.append(np.min([_distance(model, data, p, pts) for p in prims], axis=0))
    d = np.concatenate(dist)
    assert np.percentile(d, 95) < p95_m
    assert np.percentile(d, 50) < 0.01


def _distance(model, data, g: int, pts: np.ndarray) -> np.ndarray:
    """Distance from points to a capsule, box or sphere (0 inside)."""
    import mujoco

    loc = (pts - data.geom_xpos[g]) @ data.geom_xmat[g].reshape(3, 3)
    size = model.geom_size[g]
    if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
        z = np.clip(loc[:, 2], -size[1], size[1])
        return np.maximum(np.linalg.norm(loc - np.c_[0 * z, 0 * z, z], axis=1) - size[0], 0)
    if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE:
        return np.maximum(np.linalg.norm(loc, axis=1) - size[0], 0)
    return np.linalg.norm(np.maximum(np.abs(loc) - size, 0), axis=1)


@pytest.mark.parametrize("desc", [FRANKA, UR10], ids=lambda d: d.name)
def test_renders_show_the_meshes_and_not_the_primitives_under_them(desc):
    """A segmentation render of the robot at home: its pixels are the meshes' (the UR10's Robotiq
    gripper's from airo-models), never a primitive's.
    The meshes touch nothing and weigh nothing: the model's masses are the primitives'."""
    import mujoco

    model, data = _robot_scene(desc, meshes=True)
    plain, _ = _robot_scene(desc, meshes=False)
    np.testing.assert_allclose(model.body_mass, plain.body_mass)
    mesh = model.geom_type == mujoco.mjtGeom.mjGEOM_MESH
    assert mesh.sum() >= desc.dof
    assert (model.geom_contype[mesh] == 0).all() and (model.geom_conaffinity[mesh] == 0).all()
    renderer = mujoco.Renderer(model, 160, 160)
    cam = mujoco.MjvCamera()
    cam.lookat[:] = [0.3, 0.0, 0.5]
    cam.distance, cam.azimuth, cam.elevation = 2.2, 140.0, -15.0
    renderer.enable_segmentation_rendering()
    renderer.update_scene(data, cam)
    seg = renderer.render()[..., 0]
    renderer.close()
    ids = np.unique(seg[seg >= 0])
    robot = [g for g in ids if model.body(model.geom_bodyid[g]).name.startswith(f"{desc.name}_")]
    assert len(robot) > desc.dof
    gripper = {f"{desc.name}_hand", f"{desc.name}_finger_left_body", f"{desc.name}_finger_right_body"}
    for g in robot:
        body = model.body(model.geom_bodyid[g]).name
        assert mesh[g] or (not visuals.robot_visuals(desc).draws_gripper and body in gripper), body


def test_without_the_package_renders_show_the_primitives(monkeypatch):
    monkeypatch.setattr(visuals, "share_folder", lambda: None)
    assert visuals.source_of(FRANKA) == visuals.PRIMITIVES_SOURCE
    assert visuals.robot_visuals(FRANKA) is None
    assert visuals.rendered_model("franka", True, True) == visuals.PRIMITIVES_SOURCE
    assert visuals.rendered_model("franka", False, True) == visuals.NOT_RENDERED


def test_without_the_gripper_package_the_ur10s_gripper_is_drawn_as_its_primitives(monkeypatch):
    """airo-models absent: the UR10's arm keeps its meshes, its gripper its primitives, and what
    renders draw (the episodes' `rendering.robot_model`, part of their keys) says so."""
    from blueprint_pipeline.robots import gripper_meshes

    monkeypatch.setattr(gripper_meshes, "urdf_file", lambda g: None)
    visuals._load.cache_clear()
    try:
        assert visuals.source_of(UR10).endswith("; gripper: its primitives")
        vis = visuals.robot_visuals(UR10)
        assert vis is not None and not vis.draws_gripper
        assert vis.parts and all(p.body != "ur10_hand" and p.linkage is None for p in vis.parts)
    finally:
        visuals._load.cache_clear()


def test_the_setting_turns_the_meshes_off():
    assert visuals.source_of(UR10).startswith("example-robot-data ")
    assert visuals.source_of(UR10, enabled=False) == visuals.PRIMITIVES_SOURCE
    assert visuals.robot_visuals(UR10, enabled=False) is None


def test_what_renders_draw_the_robot_with_is_an_input_of_the_episodes_stage(tmp_path, monkeypatch):
    """Installing the extra, or turning it off, changes a rendering run's images: the episodes
    stage's fingerprint and its episodes' keys change with it, so nothing rendered the other way
    is reused. A run without images is not affected."""
    from blueprint_pipeline import pipeline, runner
    from blueprint_pipeline.config import Settings
    from blueprint_pipeline.contract import ROBOT_MODEL_INPUT, RunOptions, StageContext
    from blueprint_pipeline.sim.stage import plan_items
    from blueprint_pipeline.testing.tabletop import tabletop_scene, write_inputs

    write_inputs(str(tmp_path), *tabletop_scene())
    stage = next(s for s in pipeline.STAGES if s.name == "episodes")

    def model_input(render: bool, meshes: bool) -> dict:
        ctx = StageContext(manifest_url="", out_url=str(tmp_path), options=RunOptions(render=render, episodes=1),
                           settings=Settings(robot_meshes=meshes))
        entry = next(i for i in runner.describe_inputs(ctx, stage) if i["name"] == ROBOT_MODEL_INPUT)
        return entry | {"item": plan_items(ctx, {"t": "pick_place"})[0].robot_model}

    drawn, plain, dark = model_input(True, True), model_input(True, False), model_input(False, True)
    assert drawn["model"] == drawn["item"] == visuals.source_of(FRANKA)
    assert plain["model"] == plain["item"] == visuals.PRIMITIVES_SOURCE
    assert dark["model"] == dark["item"] == visuals.NOT_RENDERED
    assert len({drawn["sha256"], plain["sha256"], dark["sha256"]}) == 3
    monkeypatch.setattr(visuals, "share_folder", lambda: None)  # the extra not installed
    assert model_input(True, True)["sha256"] == plain["sha256"]
    assert model_input(False, True)["sha256"] == dark["sha256"]


def _drawn_pads(model, data, drawn) -> list[np.ndarray]:
    """The drawn 2F-85 pads' vertices (the linked parts of 12 triangles: boxes) in the hand's frame."""
    out = []
    rot, pos = data.xmat[drawn.hand].reshape(3, 3), data.xpos[drawn.hand]
    for g in drawn.geoms:
        mesh = model.geom_dataid[g]
        if model.mesh_facenum[mesh] != 12:
            continue
        adr, n = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        world = model.mesh_vert[adr:adr + n] @ data.geom_xmat[g].reshape(3, 3).T + data.geom_xpos[g]
        out.append((world - pos) @ rot)
    return out


def test_the_ur10s_robotiq_is_drawn_with_its_pads_on_the_physics_pads():
    """The UR10's Robotiq 2F-85 from airo-models (robots/gripper_meshes.py): at any opening down
    to 0.8 mm a finger (where the URDF's joint range ends), the drawn pads' inner faces are
    where our slide fingers' are (0.2 mm), at our pads' height within
    1.2 cm fully open and 0.5 cm from a quarter to three quarters of the stroke (they move on an
    arc); its knuckles turn as it closes, and the gripper's primitives are not drawn."""
    import mujoco

    from blueprint_pipeline.robots import gripper_meshes
    from blueprint_pipeline.robots.builder import names_for

    assert "airo-models" in visuals.source_of(UR10) and "Robotiq" not in visuals.source_of(FRANKA)
    model, data = _robot_scene(UR10, meshes=True)
    names = names_for(UR10)
    vis = visuals.robot_visuals(UR10)
    assert vis.draws_gripper
    drawn = gripper_meshes.drawn_linkage(model, UR10.name, names, vis)
    assert len(drawn.geoms) == 10  # per finger: outer and inner knuckle, outer and inner finger, pad
    stroke = UR10.gripper.stroke_per_finger_m
    turned = []
    for frac in [0.02, *np.linspace(0.125, 1.0, 8)]:
        for j in names.finger_joints:
            data.qpos[model.joint(j).qposadr[0]] = frac * stroke
        mujoco.mj_forward(model, data)
        gripper_meshes.pose_linkage(data, drawn)
        pads = _drawn_pads(model, data, drawn)
        assert len(pads) == 2
        left, right = sorted(pads, key=lambda p: -p[:, 1].mean())
        assert abs(left[:, 1].min() - frac * stroke) < 2e-4 and abs(-right[:, 1].max() - frac * stroke) < 2e-4
        height = left[:, 2].mean() - UR10.gripper.tcp_offset_m
        assert abs(height) < (0.005 if 0.25 <= frac <= 0.75 else 0.012), (frac, height)
        turned.append(data.geom_xmat[drawn.geoms[0]].copy())
    assert np.abs(turned[0] - turned[-1]).max() > 0.3  # a knuckle turns by about 0.8 rad
    for g in range(model.ngeom):
        body = model.body(model.geom_bodyid[g]).name
        if body in (names.hand_body, *(f"ur10_finger_{s}_body" for s in ("left", "right"))):
            assert model.geom_group[g] != 0 or model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH, body


def test_rendered_ur10_episodes_draw_the_linkage_where_the_fingers_are(monkeypatch):
    """In a rendered episode, every frame's drawn pads follow the fingers: open at the start,
    on the object's sides while it is held (the engine poses the linkage before each render)."""
    from blueprint_pipeline.robots import gripper_meshes
    from blueprint_pipeline.sim import engine
    from blueprint_pipeline.sim.episode import EpisodeOptions
    from blueprint_pipeline.sim.families import run_episode
    from blueprint_pipeline.sim.scene_builder import build_sim_scene
    from blueprint_pipeline.testing.tabletop import tabletop_scene

    scene, physics, config = tabletop_scene(with_clutter=False)
    task = config.tasks[0]
    pl = task.robot_placements["ur10"]
    sim = build_sim_scene(scene, physics, UR10, pl.base_position_m, pl.base_orientation_wxyz,
                          robot_visuals=visuals.robot_visuals(UR10))
    finger = sim.model.jnt_qposadr[sim.model.joint(sim.names.finger_joints[0]).id]
    faces = []

    def checked(data, drawn):
        gripper_meshes.pose_linkage(data, drawn)
        left = max(_drawn_pads(sim.model, data, drawn), key=lambda p: p[:, 1].mean())
        faces.append((float(left[:, 1].min()), float(data.qpos[finger])))

    monkeypatch.setattr(engine, "pose_linkage", checked)
    rec = run_episode(sim, task, 0, seed=2, options=EpisodeOptions(render=True, image_size=64))
    assert rec.success, rec.failure_reason
    assert len(faces) == rec.length
    drawn, opening = np.array(faces).T
    np.testing.assert_allclose(drawn, opening, atol=2e-4)
    assert opening.max() - opening.min() > 0.01  # the fingers closed on the object and opened again


def test_a_gripper_mesh_outside_its_package_is_refused(tmp_path, monkeypatch, caplog):
    """A URDF in the gripper's package whose mesh path leaves the package is not read: the
    robot is drawn as its primitives, and the log says why."""
    from blueprint_pipeline.robots import gripper_meshes

    urdf = tmp_path / "site" / UR10.visual_meshes.gripper.urdf
    urdf.parent.mkdir(parents=True)
    (tmp_path / "outside.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    escape = "../" * (len(urdf.relative_to(tmp_path).parts) - 1) + "outside.obj"
    urdf.write_text(f"""<robot name="g"><link name="base_link"><visual><geometry><mesh filename="{escape}"/></geometry>
        </visual></link><joint name="finger_joint" type="revolute"><parent link="base_link"/><child link="f"/>
        <axis xyz="1 0 0"/><limit lower="0" upper="0.8" effort="1" velocity="1"/></joint><link name="f"/></robot>""")
    monkeypatch.setattr(gripper_meshes, "urdf_file", lambda g: urdf)
    gripper_meshes.load_parts.cache_clear()
    visuals._load.cache_clear()
    try:
        with pytest.raises(ValueError, match="leaves the package"):
            gripper_meshes.load_parts(UR10, "ur10_hand")
        assert visuals.robot_visuals(UR10) is None
        assert "leaves the package" in caplog.text
    finally:
        gripper_meshes.load_parts.cache_clear()
        visuals._load.cache_clear()
