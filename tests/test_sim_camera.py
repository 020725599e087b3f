"""The scene camera chosen per task (sim/camera.py) on corpus scenes: it sees the target and the
goal or the drawer handle, by ray casts and by a segmentation render; a drawer and a shelf task
whose fixed default camera sees nothing get another pose; episodes and the stage report it."""

from __future__ import annotations

import json
from pathlib import Path

import mujoco
import numpy as np
import pytest

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.sim import scenes
from blueprint_pipeline.sim import stage as episodes_stage
from blueprint_pipeline.sim.camera_model import episode_cameras, pinhole, project
from blueprint_pipeline.sim.camera import SCENE_CAMERA, place_scene_camera, point_visible, task_points, work_geoms
from blueprint_pipeline.sim.families import run_episode
from blueprint_pipeline.sim.randomize import apply_randomization, episode_rng, prepare_rendering
from blueprint_pipeline.sim.episode import start_data
from blueprint_pipeline.sim.render import make_renderer
from blueprint_pipeline.testing.corpus import corpus

# a drawer (lab), a shelving unit whose default camera stands behind the shelf's back panel
# (pantry), and desks the default camera sees (classroom)
SCENES = ("lab_mm_y", "pantry_m_z", "classroom_m_z")
DRAWER = ("lab_mm_y", "open_close_lab_drawer")
SHELF = ("pantry_m_z", "pick_place_shelf1_2_to_shelving_unit")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """The corpus scenes through scene, simready, usd and geniesim (the episodes stage's inputs)."""
    root = tmp_path_factory.mktemp("camera_corpus")
    manifests = dict(corpus())
    out = {}
    for name in SCENES:
        path = root / f"{name}.json"
        path.write_text(json.dumps(manifests[name]))
        ctx = StageContext(manifest_url=str(path), out_url=str(root / name), options=RunOptions(workers=1))
        for stage in ("scene", "simready", "usd", "geniesim"):
            run_pipeline(ctx, only=stage)
        out[name] = str(root / name)
    return out


def _tasks(out: str) -> list[str]:
    scene_url, _, tasks_url = scenes.inputs_of(out)
    config = scenes.load_task_config(tasks_url)
    return [t.task_id for t in episodes_stage.runnable_tasks(config, "franka", load_scene(scene_url))]


def _home(sim) -> mujoco.MjData:
    d = mujoco.MjData(sim.model)
    mujoco.mj_resetDataKeyframe(sim.model, d, sim.model.key("home").id)
    mujoco.mj_forward(sim.model, d)  # kinematics and camera poses
    return d


def _start_visibility(sim, task) -> dict[str, bool]:
    """Each start point seen from the model's scene camera as it now stands (not the choice's record)."""
    d = _home(sim)
    cam = sim.model.camera(SCENE_CAMERA).id
    work = work_geoms(sim, task)
    return {p.name: point_visible(sim.model, d, d.cam_xpos[cam], d.cam_xmat[cam].reshape(3, 3),
                                  float(sim.model.cam_fovy[cam]), p.position(d), work)
            for p in task_points(sim, task, start=False)}


def test_chosen_camera_sees_target_and_goal_or_handle_at_start(outputs):
    checked = 0
    for name in SCENES:
        for task_id in _tasks(outputs[name]):
            sim, task = scenes.sim_for(outputs[name], "franka", task_id)
            seen = _start_visibility(sim, task)
            must = ("handle", "hand") if task.type == "open_close" else ("target", "target_top", "goal", "hand")
            assert set(must) <= set(seen), seen
            assert all(seen.values()), (name, task_id, sim.scene_camera)
            assert not [h for h in sim.scene_camera.hidden if h.startswith("start:")]
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("where", [DRAWER, SHELF], ids=["drawer", "shelf"])
def test_occluded_default_camera_is_replaced(outputs, where):
    name, task_id = where
    sim, task = scenes.sim_for(outputs[name], "franka", task_id)
    choice = sim.scene_camera
    # the fixed pose 1.4 m ahead of the robot stands behind the furniture: it sees nothing of the work
    assert choice.default_score < 0.2, choice
    assert any(h.startswith("start:") for h in choice.default_hidden)
    assert choice.name != "default" and choice.score == 1.0, choice
    cam = sim.model.camera(SCENE_CAMERA).id
    default_pos, _ = sim._compiled_scene_cam
    assert np.linalg.norm(sim.model.cam_pos[cam] - default_pos) > 0.3
    np.testing.assert_allclose(sim.model.cam_pos[cam], choice.pos_m)
    np.testing.assert_allclose(sim.nominal_cam_pos[cam], choice.pos_m)  # randomisation jitters around it
    # inside the room and above the floor
    size = np.asarray(sim.scene.header.room_size_m)
    assert np.all(np.asarray(choice.pos_m) > 0.0) and np.all(np.asarray(choice.pos_m) < size)


def test_default_camera_kept_where_it_sees_everything(outputs):
    kept = 0
    for task_id in _tasks(outputs["classroom_m_z"]):
        sim, _ = scenes.sim_for(outputs["classroom_m_z"], "franka", task_id)
        if sim.scene_camera.default_score == 1.0:
            assert sim.scene_camera.name == "default"
            cam = sim.model.camera(SCENE_CAMERA).id
            np.testing.assert_allclose(sim.model.cam_pos[cam], sim._compiled_scene_cam[0])
            kept += 1
    assert kept >= 1


def _pixels_of(sim, geoms: np.ndarray, size: int = 128) -> int:
    """Pixels of `geoms` in a segmentation render of the scene camera at the home pose."""
    d = _home(sim)
    renderer = make_renderer(sim.model, size, size)
    try:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(d, camera=SCENE_CAMERA)
        seg = renderer.render()
    finally:
        renderer.close()
    ids = seg[..., 0][seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)]
    return int(np.isin(ids, geoms).sum())


@pytest.mark.parametrize("where", [DRAWER, SHELF], ids=["drawer", "shelf"])
def test_segmentation_render_shows_the_work_only_from_the_chosen_pose(outputs, where):
    name, task_id = where
    sim, task = scenes.sim_for(outputs[name], "franka", task_id)
    m = sim.model
    if task.type == "open_close":
        geoms = np.array([m.geom(sim.handle_geom_name(task.target_object_id)).id])
    else:
        geoms = np.array(sim.object_geom_ids(task.target_object_id))
    chosen = _pixels_of(sim, geoms)
    cam = m.camera(SCENE_CAMERA).id
    pos, quat = m.cam_pos[cam].copy(), m.cam_quat[cam].copy()
    m.cam_pos[cam], m.cam_quat[cam] = sim._compiled_scene_cam
    try:
        default = _pixels_of(sim, geoms)
    finally:
        m.cam_pos[cam], m.cam_quat[cam] = pos, quat
    assert default == 0
    assert chosen >= 10, chosen


def test_randomised_camera_stays_near_the_chosen_pose_and_reaches_the_renderer(outputs):
    name, task_id = SHELF
    sim, task = scenes.sim_for(outputs[name], "franka", task_id)
    m = sim.model
    cam = m.camera(SCENE_CAMERA).id
    chosen = np.asarray(sim.scene_camera.pos_m)
    d = start_data(sim, task.target_object_id)  # the settled start (sleeping clutter), as episodes start
    quat0 = m.cam_quat[cam].copy()
    apply_randomization(sim, d, task.target_object_id, episode_rng("s", task_id, 1, 0))
    prepare_rendering(sim, task_id, 1, 0, shadows=False, visuals=True)
    moved = m.cam_pos[cam] - chosen
    assert np.all(np.abs(moved) <= 0.02) and np.any(moved != 0.0)
    turned = 2 * np.arccos(min(1.0, abs(float(np.dot(m.cam_quat[cam], quat0)))))
    assert 0.0 < turned <= np.deg2rad(2.0) + 1e-9
    # what the episode does before rendering a frame: the renderer reads the data's camera pose
    mujoco.mj_forward(m, d)
    mujoco.mj_step(m, d, 16)
    mujoco.mj_kinematics(m, d)
    mujoco.mj_comPos(m, d)
    mujoco.mj_camlight(m, d)
    place_scene_camera(m, d)
    np.testing.assert_allclose(d.cam_xpos[cam], m.cam_pos[cam])
    expected = np.zeros(9)
    mujoco.mju_quat2Mat(expected, m.cam_quat[cam])
    np.testing.assert_allclose(d.cam_xmat[cam], expected, atol=1e-12)
    sim.restore_nominal()
    np.testing.assert_allclose(m.cam_pos[cam], chosen)
    np.testing.assert_array_equal(m.cam_quat[cam], quat0)


def test_episode_reports_the_camera_and_what_it_saw(outputs):
    name, task_id = DRAWER
    sim, task = scenes.sim_for(outputs[name], "franka", task_id)
    rec = run_episode(sim, task, 0, seed=1)
    assert rec.success, (rec.failure_reason, rec.metrics["checks"])
    m = rec.metrics
    assert m["scene_camera"]["name"] == sim.scene_camera.name != "default"
    assert set(m["scene_camera_visibility"]) == {"start", "grasp", "final"}
    assert m["scene_camera_visibility"]["start"]["fraction"] == 1.0
    assert m["scene_camera_visibility"]["grasp"]["hidden"] == []  # the hand on the handle
    assert m["scene_camera_visible_fraction"] >= 0.8


def test_stage_summary_lists_the_cameras(outputs):
    from blueprint_pipeline.sim.scenes import load_task_config
    from blueprint_pipeline.scene.io import load_scene

    out = Path(outputs["lab_mm_y"])
    config = load_task_config(str(out / "geniesim/task_config.json"))
    n = len(episodes_stage.runnable_tasks(config, "franka", load_scene(str(out / "scene/normalized.jsonl"))))
    # one episode per task (they are dealt in turn), so the drawer's runs too
    ctx = StageContext(manifest_url="", out_url=outputs["lab_mm_y"],
                       options=RunOptions(episodes=n, workers=1, seed=3, render=True))
    try:
        episodes_stage.run(ctx)
    except episodes_stage.EpisodesFailedError:
        pass  # the success rate is not what this test is about
    summary = json.loads((Path(outputs["lab_mm_y"]) / "episodes/summary.json").read_text())
    cams = summary["scene_camera"]
    ran = {json.loads(f.read_text())["task_id"] for f in (Path(outputs["lab_mm_y"]) / "episodes/results").iterdir()}
    assert set(cams["per_task"]) == ran and "open_close_lab_drawer" in ran
    drawer = cams["per_task"]["open_close_lab_drawer"]
    assert drawer["name"] != "default" and drawer["score"] == 1.0 and drawer["default_score"] < 0.2
    assert cams["tasks_default_occluded"] >= 1
    assert cams["episodes"] == n and 0.0 < cams["visible_fraction"]["min"] <= cams["visible_fraction"]["median"] <= 1.0


@pytest.mark.parametrize("camera", ["scene_cam", "wrist_cam"])
def test_recorded_intrinsics_and_extrinsics_unproject_rendered_depth_onto_the_surfaces(outputs, camera):
    """A pixel with its rendered depth, unprojected with the recorded camera model, lands where a
    MuJoCo ray through it meets the scene; the ray's geom is the one the segmentation render shows."""
    name, task_id = SHELF
    sim, _task = scenes.sim_for(outputs[name], "franka", task_id)
    m, d = sim.model, _home(sim)
    place_scene_camera(m, d)
    cam_ids = {"scene_cam": m.camera(SCENE_CAMERA).id, "wrist_cam": m.camera(sim.names.wrist_camera).id}
    tcp = m.site(sim.names.tcp_site).id
    params = episode_cameras(m, d, cam_ids, tcp)[camera]
    size = 96
    intr = pinhole(params["fovy_deg"], size, size)
    extr = np.asarray(params["extrinsics"]).reshape(4, 4)
    if params["frame"] == "tcp":  # the wrist camera's world pose: the TCP's pose composed with it
        tcp_pose = np.eye(4)
        tcp_pose[:3, :3], tcp_pose[:3, 3] = d.site_xmat[tcp].reshape(3, 3), d.site_xpos[tcp]
        extr = tcp_pose @ extr
    renderer = make_renderer(m, size, size)
    try:
        renderer.update_scene(d, camera=cam_ids[camera])
        renderer.enable_depth_rendering()
        depth = renderer.render().copy()
        renderer.disable_depth_rendering()
        renderer.enable_segmentation_rendering()
        seg = renderer.render().copy()
    finally:
        renderer.close()
    rng = np.random.default_rng(0)
    checked = agreed = 0
    for v, u in rng.integers(2, size - 2, (300, 2)):
        window = seg[v - 2:v + 3, u - 2:u + 3]
        if not (np.all(window[..., 1] == mujoco.mjtObj.mjOBJ_GEOM) and np.all(window[..., 0] == seg[v, u, 0])):
            continue  # an edge, or the sky
        z = float(depth[v, u])
        p_cam = np.array([(u - intr["cx"]) * z / intr["fx"], (v - intr["cy"]) * z / intr["fy"], z])
        p = extr[:3, :3] @ p_cam + extr[:3, 3]
        origin = extr[:3, 3]
        direction = (p - origin) / np.linalg.norm(p - origin)
        geomid = np.array([-1], dtype=np.int32)
        dist = mujoco.mj_ray(m, d, origin, direction, None, 1, -1, geomid)
        checked += 1
        agreed += bool(abs(dist - np.linalg.norm(p - origin)) < 0.005 and geomid[0] == seg[v, u, 0])
        # and back: the recorded model projects the point onto the pixel it came from
        np.testing.assert_allclose(project(p[None], extr, intr)[0], [u, v], atol=1e-6)
    assert checked >= 50, checked
    assert agreed >= 0.95 * checked, (agreed, checked)


def test_restoring_the_nominal_model_keeps_the_chosen_camera_looking_at_its_point(outputs):
    """Between episodes the model returns to nominal: the chosen pose, position and orientation
    both (the orientation once went back to the compiled default's while the position stayed)."""
    name, task_id = SHELF
    sim, _task = scenes.sim_for(outputs[name], "franka", task_id)
    sim.restore_nominal()
    m = sim.model
    cam = m.camera(SCENE_CAMERA).id
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, m.cam_quat[cam])
    forward = -rot.reshape(3, 3)[:, 2]  # a MuJoCo camera looks along its -z
    choice = sim.scene_camera
    to_point = np.asarray(choice.look_at_m) - np.asarray(choice.pos_m)
    np.testing.assert_allclose(m.cam_pos[cam], choice.pos_m)
    np.testing.assert_allclose(forward, to_point / np.linalg.norm(to_point), atol=1e-9)


def test_a_run_without_images_chooses_no_camera(outputs):
    """Choosing each task's camera is 4% of the corpus's CPU and serves only the images: a run
    without them chooses none, and reports none."""
    ctx = StageContext(manifest_url="", out_url=outputs["lab_mm_y"], options=RunOptions(episodes=2, workers=1, seed=5))
    try:
        episodes_stage.run(ctx)
    except episodes_stage.EpisodesFailedError:
        pass  # the success rate is not what this test is about
    out = Path(outputs["lab_mm_y"])
    assert json.loads((out / "episodes/summary.json").read_text())["scene_camera"] is None
    results = [json.loads(f.read_text()) for f in (out / "episodes/results").iterdir()]
    assert len(results) == 2 and not any("scene_camera" in r["metrics"] for r in results)
