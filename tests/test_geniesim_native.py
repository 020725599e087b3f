"""Genie Sim native bundle: written files, `blueprint geniesim check`, the stage end to end."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.geniesim.export import build_export
from blueprint_pipeline.geniesim.native.bundle import write_bundle
from blueprint_pipeline.geniesim.native.check import check_bundle
from blueprint_pipeline.testing.synthetic import small_kitchen, synthetic_physics

TOP_KEYS = {"task", "origin", "objects", "scene", "robot", "stages", "recording_setting", "task_description",
            "task_metric"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    scene = small_kitchen()
    physics = synthetic_physics(scene)
    export = build_export(scene, physics)
    root = tmp_path_factory.mktemp("bundle") / "native"
    report = write_bundle(root, scene, physics, export.task_config)
    return root, scene, export, report


def _mesh_points(usd: Path) -> np.ndarray:
    stage = Usd.Stage.Open(str(usd))
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
    assert meshes
    return np.concatenate([np.array(m.GetPointsAttr().Get(), dtype=float) for m in meshes])


def test_bundle_passes_check(bundle):
    root, scene, export, report = bundle
    counts = check_bundle(root)
    n_pick = sum(t.type == "pick_place" for t in export.task_config.tasks)
    # every pick_place task is bundled unless no G2 base pose reaches it (a shelf an arm on a
    # pedestal reaches), and then the report says so
    assert all(s["reason"] == "no G2 base pose reaches it" for s in report.skipped_tasks)
    n_bundled = n_pick - len(report.skipped_tasks)
    assert counts["tasks"] == n_bundled == len(report.tasks) >= 2
    assert counts["objects"] == len(scene.objects) + n_bundled  # + one goal pad per task


def test_object_folders_are_centred_metre_meshes(bundle):
    root, scene, _, _ = bundle
    for o in scene.objects:
        folders = list((root / "objects").glob(f"*/small_kitchen-{o.id}"))
        assert len(folders) == 1, o.id
        usd = folders[0] / "Aligned.usd"
        assert usd.read_bytes()[:8] == b"PXR-USDC"  # binary crate, named exactly Aligned.usd
        pts = _mesh_points(usd)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        assert np.allclose((lo + hi) / 2, 0, atol=1e-6)
        assert np.allclose(hi - lo, o.extents_m, atol=1e-5)
        params = json.loads((folders[0] / "object_parameters.json").read_text())
        assert params["upAxis"] == ["z"] and params["scale"] == 1.0 and params["size"] == list(o.extents_m)
        assert params["mass"] > 0 and params["static_friction"] >= params["dynamic_friction"]
        assert params["add_rigid_body"] == o.sim_role.is_dynamic


def test_grasps_are_antipodal_and_fit_the_gripper(bundle):
    root, scene, _, _ = bundle
    for name in ("mug_1", "cereal_1"):
        obj = scene.by_id()[name]
        folder = root / "interaction" / f"small_kitchen-{name}"
        inter = json.loads((folder / "interaction.json").read_text())["interaction"]
        assert inter["passive"]["grasp"] == {"default": "grasp_pose/grasp_pose.pkl"}
        data = pickle.loads((folder / "grasp_pose" / "grasp_pose.pkl").read_bytes())
        poses, widths = data["grasp_pose"], data["width"]
        assert poses.dtype == np.float64 and poses.shape[1:] == (4, 4) and widths.shape == (len(poses),)
        rot = poses[:, :3, :3]
        assert np.allclose(np.einsum("nji,njk->nik", rot, rot), np.eye(3), atol=1e-9)
        assert np.allclose(np.linalg.det(rot), 1.0)
        assert (widths > 0).all() and (widths <= 0.08).all()
        approach = rot[:, :, 0]
        assert (approach[:, 2] < -0.95).any() and (np.abs(approach[:, 2]) < 1e-9).any()  # top (tilted 15 deg) and side
        assert not (approach[:, 2] > 0.5).any()  # never from below
        # the jaw axis spans an extent that fits: the width covers the object along it
        half = np.asarray(obj.extents_m) / 2
        jaw = rot[:, :, 1]
        for p, j, w in zip(poses, jaw, widths):
            span = 2 * np.abs(j) @ half if name != "mug_1" else 0.07
            assert span <= w + 1e-9 and np.all(np.abs(p[:3, 3]) <= half + 1e-9)


def test_task_files_reference_resolvable_assets(bundle):
    root = bundle[0]
    for f in sorted((root / "tasks").glob("*.json")):
        task = json.loads(f.read_text())
        assert TOP_KEYS <= set(task)
        assert (root / task["scene"]["scene_usd"]).is_file()
        related = task["objects"]["task_related_objects"]
        for o in related + task["objects"]["fix_objects"]:
            d = root / o["data_info_dir"]
            assert (d / "Aligned.usd").is_file() and (d / "object_parameters.json").is_file()
            assert (root / "interaction" / d.name / "interaction.json").is_file()
            if "workspace_id" in o and o in related:
                assert o["workspace_id"] in task["scene"]["function_space_objects"]
        actions = [s["action"] for s in task["stages"]]
        assert actions == ["pick", "place", "reset"]
        place = task["stages"][1]
        assert place["active"]["object_id"] == related[0]["object_id"]
        assert place["passive"]["object_id"] == related[1]["object_id"]  # onto a second object
        q = task["robot"]["robot_init_pose"]["quaternion"]
        assert abs(np.linalg.norm(q) - 1) < 1e-9


def test_background_scene_composes_the_objects(bundle):
    root, _, export, report = bundle
    stage = Usd.Stage.Open(str(root / "scenes" / "small_kitchen" / "background.usda"))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    skipped = {s["task_id"] for s in report.skipped_tasks}
    targets = {t.target_object_id for t in export.task_config.tasks if t.type == "pick_place" and t.task_id not in skipped}
    counter = stage.GetPrimAtPath("/World/Objects/counter")
    assert counter.IsValid() and stage.GetPrimAtPath("/World/Objects/counter/mesh").IsA(UsdGeom.Mesh)
    world = UsdGeom.Xformable(stage.GetPrimAtPath("/World/Objects/counter/mesh")).ComputeLocalToWorldTransform(0)
    assert Gf.IsClose(world.ExtractTranslation(), Gf.Vec3d(1.6, 0.4, 0.45), 1e-6)
    for t in targets:  # task targets are placed by the task files, not the background
        assert not stage.GetPrimAtPath(f"/World/Objects/{t}").IsValid()


def _break(root: Path) -> dict[str, str]:
    """Damage a copy of the bundle in several ways; returns fragments each message must contain."""
    mug = root / "interaction" / "small_kitchen-mug_1"
    data = pickle.loads((mug / "grasp_pose" / "grasp_pose.pkl").read_bytes())
    data["grasp_pose"][0, :3, :3] *= 2.0
    data["width"][1] = 0.12
    (mug / "grasp_pose" / "grasp_pose.pkl").write_bytes(pickle.dumps(data))
    counter = next((root / "objects").glob("*/small_kitchen-counter"))
    stage = Usd.Stage.Open(str(counter / "Aligned.usd"))
    UsdGeom.Xformable(stage.GetPrimAtPath("/Object/mesh")).AddTranslateOp().Set(Gf.Vec3d(0, 0, 0.45))
    stage.GetRootLayer().Save()
    table = next((root / "objects").glob("*/small_kitchen-table"))
    stage = Usd.Stage.Open(str(table / "Aligned.usd"))
    pts = UsdGeom.Mesh(stage.GetPrimAtPath("/Object/mesh")).GetPointsAttr()
    pts.Set([Gf.Vec3f(p[0] + 0.1, p[1], p[2]) for p in pts.Get()])
    stage.GetRootLayer().Save()
    plate = next((root / "objects").glob("*/small_kitchen-plate"))
    params = json.loads((plate / "object_parameters.json").read_text())
    params["size"] = [220.0, 220.0, 20.0]  # millimetres
    (plate / "object_parameters.json").write_text(json.dumps(params))
    chair = next((root / "objects").glob("*/small_kitchen-chair"))
    (chair / "Aligned.usd").unlink()
    task_file = min((root / "tasks").glob("*.json"))
    task = json.loads(task_file.read_text())
    task["robot"]["robot_init_pose"]["quaternion"] = [1.0, 0.0, 0.0, 0.5]
    task["objects"]["task_related_objects"][0]["data_info_dir"] = "objects/mug/nowhere/"
    task["stages"][1]["passive"]["object_id"] = "ghost"
    task.pop("task_metric")
    task_file.write_text(json.dumps(task))
    return {
        "grasp_pose.pkl": "grasp rotations are not orthonormal",
        "widths outside": "grasp widths outside (0, 0.08]",
        "transform": "has a transform; the loader ignores it",
        "centre": "is not the origin",
        "metres": "is not plausible in metres",
        "missing usd": "Aligned.usd: missing",
        "quaternion": "robot.robot_init_pose: quaternion not unit",
        "dir": "does not resolve to an object folder",
        "ghost": "'ghost' is not an object of this task",
        "metric": "missing top-level key 'task_metric'",
    }


def test_broken_bundle_fails_with_every_problem(bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(bundle[0], broken)
    expected = _break(broken)
    with pytest.raises(InvalidInputError) as err:
        check_bundle(broken)
    text = str(err.value)
    for what, fragment in expected.items():
        assert fragment in text, what
    assert "native bundle check failed" in text


def _cli(args: list[str]) -> int:
    from blueprint_pipeline.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["geniesim", "check", *args])
    return int(exc.value.code or 0)


def test_cli_check_exit_codes(bundle, tmp_path, capsys):
    assert _cli([str(bundle[0].parent)]) == 0  # the geniesim folder holding native/ works too
    assert "ok (" in capsys.readouterr().out
    broken = tmp_path / "broken"
    shutil.copytree(bundle[0], broken)
    expected = _break(broken)
    assert _cli([str(broken)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    for fragment in expected.values():
        assert " ".join(fragment.split()) in err, fragment
    assert _cli([str(tmp_path / "absent")]) == 2


def test_stage_writes_every_file_with_its_hash(tmp_path):
    from blueprint_pipeline.contract import StageContext
    from blueprint_pipeline.pipeline import stage_by_name
    from blueprint_pipeline.scene.io import write_normalized
    from blueprint_pipeline.simready.io import write_physics
    from blueprint_pipeline.simready.records import PhysicsFile
    from blueprint_pipeline.usd.stage import run as usd_run

    scene = small_kitchen()
    physics = synthetic_physics(scene)
    write_normalized(str(tmp_path / "scene" / "normalized.jsonl"), scene.header, scene.objects)
    write_physics(str(tmp_path / "simready" / "physics.json"),
                  PhysicsFile(scene_id=scene.header.scene_id, estimator="test", objects=physics))
    ctx = StageContext(manifest_url=str(tmp_path / "manifest.json"), out_url=str(tmp_path))
    usd_run(ctx)
    result = stage_by_name("geniesim").run(ctx)
    out = tmp_path / "geniesim"
    assert set(result.outputs) >= {"geniesim/scene_graph.json", "geniesim/task_config.json", "geniesim/native"}
    manifest = json.loads((out / "export_manifest.json").read_text())
    assert manifest["formats"]["native_bundle"].startswith("geniesim-3.x")
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"export_manifest.json"}
    assert set(listed) == on_disk
    for rel, sha in listed.items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha
    check_bundle(out / "native")
    assert not list(out.glob(".native-*"))  # no temporary folder left behind


def test_visual_mesh_of_the_usd_stage_is_baked_and_centred(tmp_path):
    """A mesh below /Object/Visual with transforms on it and its parent ends up as plain points."""
    scene = small_kitchen()
    physics = synthetic_physics(scene)
    mug = scene.by_id()["mug_1"]
    src = tmp_path / "mug_1.usda"
    stage = Usd.Stage.CreateNew(str(src))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.Xform.Define(stage, "/Object")
    visual = UsdGeom.Xform.Define(stage, "/Object/Visual")
    visual.AddTranslateOp().Set(Gf.Vec3d(0.5, 0.0, 0.0))  # must be baked away
    wedge = UsdGeom.Mesh.Define(stage, "/Object/Visual/wedge")
    wedge.AddRotateZOp().Set(90.0)
    pts = [(0, 0, 0), (0.07, 0, 0), (0, 0.07, 0), (0, 0, 0.1), (0.07, 0, 0.1), (0, 0.07, 0.1)]
    wedge.CreatePointsAttr([Gf.Vec3f(*p) for p in pts])
    wedge.CreateFaceVertexCountsAttr([3, 3, 4, 4, 4])
    wedge.CreateFaceVertexIndicesAttr([0, 2, 1, 3, 4, 5, 0, 1, 4, 3, 1, 2, 5, 4, 2, 0, 3, 5])
    stage.GetRootLayer().Save()
    export = build_export(scene, physics)
    root = tmp_path / "native"
    report = write_bundle(root, scene, physics, export.task_config, object_usd={"mug_1": src})
    assert report.mesh_sources.get("asset") == 1
    folder = next((root / "objects").glob("*/small_kitchen-mug_1"))
    got = _mesh_points(folder / "Aligned.usd")
    rotated = np.array([(-p[1], p[0], p[2]) for p in pts])  # 90 degrees about z, translation dropped
    want = rotated - (rotated.min(axis=0) + rotated.max(axis=0)) / 2
    assert np.allclose(got, want, atol=1e-6)
    assert np.allclose(got.max(axis=0) - got.min(axis=0), mug.extents_m, atol=1e-6)
    check_bundle(root)


@pytest.fixture(scope="module")
def meshed_bundle(tmp_path_factory) -> Path:
    """The meshed kitchen example (mugs and a bowl with rims, simready/rims.py) through the
    geniesim stage: its native bundle."""
    from blueprint_pipeline.contract import RunOptions, StageContext
    from blueprint_pipeline.runner import run_pipeline

    example = Path(__file__).resolve().parents[1] / "examples" / "meshed_kitchen"
    tmp = tmp_path_factory.mktemp("meshed")
    shutil.copytree(example, tmp / "in")
    ctx = StageContext(manifest_url=str(tmp / "in" / "meshed_kitchen.json"), out_url=str(tmp / "out"),
                       options=RunOptions.create())
    for stage in ("scene", "simready", "usd", "geniesim"):
        run_pipeline(ctx, only=stage)
    return tmp / "out" / "geniesim" / "native"


def test_mugs_and_bowls_are_bundled_with_rim_grasps_that_pass_the_check(meshed_bundle, tmp_path):
    """A mug or bowl too wide to take across (the bowl, 16 cm) is bundled with grasps of its wall
    at the rim (native/grasps.rim_grasps), as the episodes stage takes it: the jaws, opened to the
    wall plus 1.5 cm a side, close on the wall, which the check measures on the mesh's triangles
    (check.jaw_openings; every grasp of a file must fit its width) instead of across the whole
    object. Moved onto the bowl's axis, the same grasp would close across the bowl, and the check
    says so."""

    info = json.loads((meshed_bundle / "bundle.json").read_text())
    assert {"tasks/pick_place_bowl_to_counter.json", "tasks/pick_place_mug_left_to_counter.json"} <= set(info["tasks"])
    assert info["skipped_tasks"] == []
    counts = check_bundle(meshed_bundle)
    assert counts["tasks"] == len(info["tasks"])
    bowl = next(meshed_bundle.glob("interaction/*-bowl"))
    data = pickle.loads((bowl / "grasp_pose" / "grasp_pose.pkl").read_bytes())
    poses, widths = data["grasp_pose"], data["width"]
    pts = _mesh_points(next(meshed_bundle.glob("objects/*/*-bowl")) / "Aligned.usd")
    extent = (pts @ poses[:, :3, 1].T).max(axis=0) - (pts @ poses[:, :3, 1].T).min(axis=0)
    wall = np.flatnonzero(widths < 0.05)  # rim grasps, then antipodal ones of the wall lower down
    assert len(wall) >= 12 and np.all(extent[wall] > 0.085)  # across the bowl these would fit no stroke
    rim = wall[extent[wall] > 0.15]  # at the rim, where the bowl is widest
    assert len(rim) >= 12
    broken_root = tmp_path / "native"
    shutil.copytree(meshed_bundle, broken_root)
    broken = dict(data)
    broken["grasp_pose"] = poses.copy()
    broken["grasp_pose"][rim[0], :2, 3] = 0.0  # onto the bowl's axis: across the bowl
    broken_file = next(broken_root.glob("interaction/*-bowl")) / "grasp_pose" / "grasp_pose.pkl"
    broken_file.write_bytes(pickle.dumps(broken))
    with pytest.raises(InvalidInputError) as err:
        check_bundle(broken_root)
    assert "grasps close across more than their width" in str(err.value)


def test_a_scene_without_a_floor_object_gets_a_floor_slab_the_robot_stands_on(tmp_path):
    """Genie Sim's robot must stand on a surface of the background; a manifest need not list its
    floor (bundle.with_floor). Without the floor object the small kitchen's bundle gets a slab at
    the floor height under every object and base, and passes the check; the slab's folder is the
    bundle's only addition. With the floor object nothing is added."""
    from blueprint_pipeline.geniesim.native.bundle import GENERATED_FLOOR_ID, with_floor

    scene = small_kitchen()
    assert with_floor(scene) is scene  # it has its floor
    bare = scene.model_copy(update={"objects": tuple(o for o in scene.objects if o.id != "floor")})
    floored = with_floor(bare)
    slab = floored.by_id()[GENERATED_FLOOR_ID]
    assert slab.aabb_max_m[2] == pytest.approx(0.0) and slab.extents_m[2] == pytest.approx(0.02)
    for o in bare.objects:
        assert slab.aabb_min_m[0] < o.aabb_min_m[0] and o.aabb_max_m[1] < slab.aabb_max_m[1]
    physics = synthetic_physics(bare)
    export = build_export(bare, physics)
    root = tmp_path / "native"
    write_bundle(root, bare, physics, export.task_config)
    counts = check_bundle(root)
    assert counts["tasks"] >= 2
    assert len(list((root / "objects").glob(f"*/small_kitchen-{GENERATED_FLOOR_ID}"))) == 1
    unfloored = tmp_path / "unfloored"
    shutil.copytree(root, unfloored)  # the same bundle with the slab taken out of the background
    background = next(unfloored.glob("scenes/*/background.usda"))
    text = background.read_text()
    start = text.index(f'def Xform "{GENERATED_FLOOR_ID}"')
    end = text.index("\n        }\n", start) + len("\n        }\n")
    background.write_text(text[:start] + text[end:])
    with pytest.raises(InvalidInputError) as err:
        check_bundle(unfloored)
    assert "does not stand wholly on a background surface" in str(err.value)
