"""Genie Sim's planner rules on the native bundle (grasps per arm, grasp_offset, where a placed
object's bottom lands, colliders, lights, robot fields and base, the assets folder) and the one
id -> prim name mapping, end to end. One broken bundle per rule the checker enforces."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from pxr import Sdf, Usd, UsdGeom

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.geniesim.export import build_export
from blueprint_pipeline.geniesim.native import rules
from blueprint_pipeline.geniesim.native.bundle import write_bundle
from blueprint_pipeline.geniesim.native.check import check_bundle, jaw_openings
from blueprint_pipeline.geniesim.native.grasps import grasps_for
from blueprint_pipeline.geniesim.native.install import install_bundle
from blueprint_pipeline.testing.synthetic import small_kitchen, synthetic_physics
from blueprint_pipeline.contract import StageContext
from blueprint_pipeline.pipeline import stage_by_name
from blueprint_pipeline.usd.names import prim_names

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    scene = small_kitchen()
    physics = synthetic_physics(scene)
    export = build_export(scene, physics)
    root = tmp_path_factory.mktemp("planner") / "native"
    write_bundle(root, scene, physics, export.task_config)
    return root


@pytest.fixture
def bundle(pristine, tmp_path):
    root = tmp_path / "native"
    shutil.copytree(pristine, root)
    return root


def _tasks(root: Path) -> list[Path]:
    return sorted((root / "tasks").glob("*.json"))


def _edit_task(path: Path, edit) -> None:
    task = json.loads(path.read_text())
    edit(task)
    path.write_text(json.dumps(task))


def _problems(root: Path, **kw) -> list[str]:
    with pytest.raises(InvalidInputError) as exc:
        check_bundle(root, **kw)
    return [f"{p.path}: {p.message}" for p in exc.value.problems]


def _pick_target(root: Path, task_path: Path) -> tuple[dict, Path]:
    task = json.loads(task_path.read_text())
    pick = next(s for s in task["stages"] if s["action"] == "pick")
    oid = pick["passive"]["object_id"]
    entry = next(o for o in task["objects"]["task_related_objects"] if o["object_id"] == oid)
    folder = root / "interaction" / Path(entry["data_info_dir"].rstrip("/")).name
    return task, folder / "grasp_pose" / "grasp_pose.pkl"


def test_every_pick_has_grasps_for_both_arms(pristine):
    counts = check_bundle(pristine)["grasps_per_arm"]
    assert counts and all(c["left"] > 0 and c["right"] > 0 for c in counts.values()), counts


def test_grasps_pass_genie_sims_upside_down_filter_for_each_arm_without_flip():
    """The pickle alone (flip_grasp off) serves both arms: each physical grasp in both jaw senses."""
    for extents, round_shape in (((0.066, 0.066, 0.1), True), ((0.06, 0.16, 0.2), False)):
        poses, _ = grasps_for(extents, round_shape, 0.08)
        arms = rules.arm_grasps(poses, np.eye(4), {"disable_upside_down": True})
        assert len(arms["left"]) == len(arms["right"]) == len(poses) // 2 > 0
        assert not set(arms["left"]) & set(arms["right"])


def test_one_jaw_sense_without_flip_leaves_the_left_arm_without_grasps(bundle):
    task_path = next(t for t in _tasks(bundle) if "mug" in t.name)
    task, pkl = _pick_target(bundle, task_path)
    data = pickle.loads(pkl.read_bytes())
    right_only = data["grasp_pose"][:, :3, 2][:, 2] < 0  # Z down: Genie Sim keeps it for the right arm only
    pkl.write_bytes(pickle.dumps({"grasp_pose": data["grasp_pose"][right_only], "width": data["width"][right_only]}))
    check_bundle(bundle)  # flip_grasp (set, as in Genie Sim's shipped tasks) still serves the left arm

    def no_flip(t):
        next(s for s in t["stages"] if s["action"] == "pick")["extra_params"].pop("flip_grasp")
    _edit_task(task_path, no_flip)
    problems = _problems(bundle)
    assert any("usable by the left arm" in p and "upside-down filter" in p for p in problems), problems
    assert not any("usable by the right arm" in p for p in problems)


def test_untilted_top_down_grasps_pass_for_neither_arm(bundle):
    task_path = _tasks(bundle)[0]
    _, pkl = _pick_target(bundle, task_path)
    data = pickle.loads(pkl.read_bytes())
    top = data["grasp_pose"][data["grasp_pose"][:, 2, 0] < -0.5].copy()
    for p in top:  # straight down, jaws horizontal: Z = X x Y is horizontal
        jaw = p[:3, 1] - p[:3, 1] @ np.array([0, 0, 1.0]) * np.array([0, 0, 1.0])
        jaw /= np.linalg.norm(jaw)
        p[:3, 0], p[:3, 1] = (0, 0, -1.0), jaw
        p[:3, 2] = np.cross(p[:3, 0], jaw)
    pkl.write_bytes(pickle.dumps({"grasp_pose": top, "width": data["width"][: len(top)]}))
    problems = _problems(bundle)
    assert any("usable by the left arm" in p for p in problems) and any("usable by the right arm" in p for p in problems)


def test_origin_placement_sinks_the_object_into_the_goal(bundle):
    task_path = _tasks(bundle)[0]

    def origin_mode(t):
        next(s for s in t["stages"] if s["action"] == "place")["extra_params"]["place_with_origin_orientation"] = True
    _edit_task(task_path, origin_mode)
    problems = _problems(bundle)
    assert any(task_path.name in p and "under the goal surface" in p for p in problems), problems


def test_placed_bottom_lands_on_the_goal_surface(pristine):
    """Genie Sim's alignment of the exported labels puts the target's bottom on the pad's top."""
    for task_path in _tasks(pristine):
        task = json.loads(task_path.read_text())
        place = next(s for s in task["stages"] if s["action"] == "place")
        assert place["extra_params"]["place_with_origin_orientation"] is False
    check_bundle(pristine)  # raises if any bottom is more than 5 mm off


def test_grasp_offset_must_be_explicit_and_keep_the_fingers_in_the_object(bundle):
    task_path = next(t for t in _tasks(bundle) if "mug" in t.name)

    def drop(t):
        next(s for s in t["stages"] if s["action"] == "pick")["extra_params"].pop("grasp_offset")
    _edit_task(task_path, drop)
    assert any("grasp_offset missing" in p for p in _problems(bundle))

    def far(t):
        next(s for s in t["stages"] if s["action"] == "pick")["extra_params"]["grasp_offset"] = 0.2
    _edit_task(task_path, far)
    problems = _problems(bundle)
    assert any("past its centre after grasp_offset 0.2" in p for p in problems), problems


def test_side_grasps_with_genie_sims_default_offset_pass_the_axis():
    poses, _ = grasps_for((0.066, 0.066, 0.1), True, 0.08)
    side = np.abs(poses[:, 2, 0]) < 1e-9
    assert np.allclose(np.einsum("ni,ni->n", poses[side, :3, 3], poses[side, :3, 0]), 0.0)  # on the axis at offset 0
    moved = poses[side, :3, 3] + rules.DEFAULT_GRASP_OFFSET_M * poses[side, :3, 0]
    assert np.allclose(np.einsum("ni,ni->n", moved, poses[side, :3, 0]), 0.03)  # 3 cm past it


def test_oval_cylinder_grasps_stay_within_the_stroke():
    from blueprint_pipeline.geniesim.native.check import fan_triangles
    from blueprint_pipeline.geniesim.native.mesh import cylinder_mesh

    extents = (0.18, 0.06, 0.05)
    poses, widths = grasps_for(extents, True, 0.08)
    oval = cylinder_mesh(extents, segments=256)  # the oval section as the bundle writes it, finer
    opening = jaw_openings(poses, fan_triangles(oval.points, oval.face_counts, oval.face_indices))
    assert len(poses) and (opening <= widths + 1e-3).all() and (widths <= 0.08).all()
    assert (opening > 0.02).all()  # each closes on the object


def test_a_grasp_across_more_than_the_stroke_fails(bundle):
    task_path = next(t for t in _tasks(bundle) if "cereal" in t.name)
    _, pkl = _pick_target(bundle, task_path)
    data = pickle.loads(pkl.read_bytes())
    poses = data["grasp_pose"].copy()
    poses[0, :3, :3] = np.array([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]]) @ np.diag([1.0, 1.0, 1.0])
    poses[0, :3, 0], poses[0, :3, 1], poses[0, :3, 2] = (0, 0, -1.0), (1.0, 0, 0), np.cross((0, 0, -1.0), (1.0, 0, 0))
    params = json.loads(next((bundle / "objects").glob(f"*/{pkl.parent.parent.name}/object_parameters.json")).read_text())
    poses[0, :3, 1] = (np.cos(0.5), np.sin(0.5), 0.0)  # across the box diagonally
    poses[0, :3, 2] = np.cross(poses[0, :3, 0], poses[0, :3, 1])
    pkl.write_bytes(pickle.dumps({"grasp_pose": poses, "width": data["width"]}))
    assert max(params["size"][:2]) > 0.08
    assert any("close across more than their width" in p for p in _problems(bundle))


def test_assets_folder_layout_install_and_conflicts(bundle, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    problems = _problems(bundle, assets=assets)
    assert any("robot/G2_omnipicker/robot_fix.usda missing" in p for p in problems)
    assert any("robot/curobo_robot/assets/robot/ missing" in p for p in problems)
    assert any("Aligned.usd missing" in p for p in problems)
    (assets / "robot" / "G2_omnipicker").mkdir(parents=True)
    (assets / "robot" / "G2_omnipicker" / "robot_fix.usda").write_text("#usda 1.0\n")
    (assets / "robot" / "curobo_robot" / "assets" / "robot").mkdir(parents=True)
    conflict = assets / "scenes" / "small_kitchen"
    conflict.mkdir(parents=True)
    (conflict / "background.usda").write_text("#usda 1.0\n")
    with pytest.raises(InvalidInputError) as exc:
        install_bundle(bundle, assets)
    assert any("scenes/small_kitchen" in p.path for p in exc.value.problems)
    assert not (assets / "objects").exists() and (conflict / "background.usda").read_text() == "#usda 1.0\n"
    shutil.rmtree(conflict)
    report = install_bundle(bundle, assets)
    assert report.installed and not report.already_present
    assert install_bundle(bundle, assets, link=True).already_present == report.installed  # idempotent
    check_bundle(bundle, assets=assets)
    mesh = next((assets / "objects").glob("table/*/Aligned.usd"))  # in the background only
    mesh.write_bytes(mesh.read_bytes() + b"\0")
    assert any("differs from the bundle's copy" in p for p in _problems(bundle, assets=assets))


def test_install_by_links(bundle, tmp_path):
    assets = tmp_path / "assets"
    (assets / "robot" / "G2_omnipicker").mkdir(parents=True)
    (assets / "robot" / "G2_omnipicker" / "robot_fix.usda").write_text("#usda 1.0\n")
    (assets / "robot" / "curobo_robot" / "assets" / "robot").mkdir(parents=True)
    install_bundle(bundle, assets, link=True)
    assert all(p.is_symlink() for p in (assets / "interaction").iterdir())
    check_bundle(bundle, assets=assets)


def test_meshes_without_colliders_fail(bundle):
    usd = next((bundle / "objects").glob("table/*/Aligned.usd"))
    layer = Sdf.Layer.FindOrOpen(str(usd))
    layer.GetPrimAtPath("/Object/mesh").ClearInfo("apiSchemas")
    layer.Save()
    problems = _problems(bundle)
    assert any("Aligned.usd" in p and "no UsdPhysics collision" in p for p in problems)
    assert any("background.usda" in p and "without UsdPhysics collision" in p for p in problems)


def test_background_meshes_collide_and_are_lit(pristine):
    stage = Usd.Stage.Open(str(next((pristine / "scenes").glob("*/background.usda"))))
    from pxr import UsdLux, UsdPhysics
    meshes = [p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    assert meshes and all(p.HasAPI(UsdPhysics.CollisionAPI) for p in meshes)
    assert any(p.HasAPI(UsdLux.LightAPI) for p in stage.Traverse())


def test_no_lights_fails_unless_the_task_has_them(bundle):
    usd = next((bundle / "scenes").glob("*/background.usda"))
    layer = Sdf.Layer.FindOrOpen(str(usd))
    edit = Sdf.BatchNamespaceEdit()
    edit.Add(Sdf.NamespaceEdit.Remove("/World/Lights"))
    assert layer.Apply(edit)
    layer.Save()
    assert any("no lights" in p for p in _problems(bundle))
    light = {"light_type": "Distant", "light_prim": "/World/Sun", "light_temperature": 6500,
             "light_intensity": 3000, "texture": ""}
    for t in _tasks(bundle):
        _edit_task(t, lambda task: task.__setitem__("lights", {"sun": [light]}))
    check_bundle(bundle)


def test_shipped_task_fields(pristine, bundle):
    task = json.loads(_tasks(pristine)[0].read_text())
    assert task["robot"]["arm"] == "dual"
    assert sum("_arm_l_joint" in k for k in task["robot"]["init_arm_pose"]) == 7
    assert task["task_description"]["task_name"] and task["task_description"]["init_scene_text"]
    pick = next(s for s in task["stages"] if s["action"] == "pick")["extra_params"]
    assert pick["flip_grasp"] is True and pick["disable_upside_down"] is True and pick["grasp_offset"] == 0.0
    path = _tasks(bundle)[0]

    def strip(t):
        t["robot"]["arm"] = "right"
        t["robot"]["init_arm_pose"] = {}
        t["task_description"].pop("task_name")
        t["task_description"]["init_scene_text"] = ""
    _edit_task(path, strip)
    problems = _problems(bundle)
    for needle in ("robot.arm is 'right'", "init_arm_pose lacks the left and right", "task_description.task_name",
                   "task_description.init_scene_text"):
        assert any(needle in p for p in problems), (needle, problems)


def test_base_off_the_floor_fails(bundle):
    path = _tasks(bundle)[0]
    _edit_task(path, lambda t: t["robot"]["robot_init_pose"].__setitem__("position", [1.0, -0.14, 0.0]))
    assert any("does not stand wholly on a background surface" in p for p in _problems(bundle))


def _renamed_manifest(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    manifest = json.loads((EXAMPLES / "kitchen.json").read_text())
    ids = [o["id"] for o in manifest["objects"]]
    new = ["stool-9", "stool_9", "9stool", "gripper", "o_9stool", "a-b-c"]
    assert not set(new) & set(ids)
    rename = dict(zip([i for i in ids if i != "floor"][: len(new)], new))
    text = json.dumps(manifest)
    for old, nid in rename.items():
        text = text.replace(f'"{old}"', json.dumps(nid))
    path = tmp_path / "renamed.json"
    path.write_text(text)
    return path, rename


def test_any_valid_id_runs_end_to_end_with_the_same_prim_names(tmp_path):
    manifest, rename = _renamed_manifest(tmp_path)
    out = tmp_path / "out"
    ctx = StageContext(manifest_url=str(manifest), out_url=str(out))
    for stage in ("scene", "simready", "usd", "geniesim"):
        stage_by_name(stage).run(ctx)
    from blueprint_pipeline.scene.io import load_scene
    ids = [o.id for o in load_scene(str(out / "scene" / "normalized.jsonl")).objects]
    assert set(rename.values()) <= set(ids)
    names = prim_names(ids)
    usd_stage = Usd.Stage.Open(str(out / "usd" / "scene.usda"))
    background = Usd.Stage.Open(str(next((out / "geniesim" / "native" / "scenes").glob("*/background.usda"))))
    for oid in rename.values():
        assert usd_stage.GetPrimAtPath(f"/World/Objects/{names[oid]}").IsValid(), oid
        params = json.loads(next((out / "geniesim" / "native" / "objects").glob(
            f"*/*-{names[oid]}/object_parameters.json")).read_text())
        assert params["object_id"] == names[oid]
        prim = background.GetPrimAtPath(f"/World/Objects/{names[oid]}")
        assert prim.IsValid() or any(names[oid] in t.read_text() for t in (out / "geniesim" / "native" / "tasks").glob("*.json"))
    assert names["gripper"] != "gripper"
    check_bundle(out / "geniesim" / "native")


def test_prim_names_are_one_collision_free_mapping():
    ids = ["chair-1", "chair_1", "1chair", "stól", "stół", "CHAIR-1", "gripper", "", "a/../b", "o_1chair"]
    names = prim_names(ids)
    assert len({n.lower() for n in names.values()}) == len(ids)
    assert all(Sdf.Path.IsValidIdentifier(n) for n in names.values()), names
    assert names["chair_1"] == "chair_1" and names["o_1chair"] == "o_1chair"  # valid ids keep their names
    assert names == prim_names(list(reversed(ids)))  # independent of order
    assert "gripper" not in names.values()
    assert prim_names(["x"], reserved={"x"})["x"] != "x"


@pytest.mark.parametrize("which", ["kitchen", "office", "warehouse"])
def test_example_bases_stand_on_the_floor_and_both_arms_have_grasps(which, tmp_path):
    ctx = StageContext(manifest_url=str(EXAMPLES / f"{which}.json"), out_url=str(tmp_path))
    for stage in ("scene", "simready", "usd", "geniesim"):
        stage_by_name(stage).run(ctx)
    counts = check_bundle(tmp_path / "geniesim" / "native")  # includes the base-on-floor rule
    assert counts["tasks"] >= 1
    assert all(c["left"] > 0 and c["right"] > 0 for c in counts["grasps_per_arm"].values())
