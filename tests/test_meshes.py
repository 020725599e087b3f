"""Object meshes from asset files (simready/meshes.py): fitting, units and axes, bad assets,
mass from the shape, the decomposition cache, and the simulator's mesh colliders."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest
import trimesh

from blueprint_pipeline.config import Settings
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.scene.records import AssetRef, Scene, SceneHeader, SceneObject, SimRole
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.meshes import MeshSettings, load_meshes
from blueprint_pipeline.simready.stage import estimate_scene

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "meshed_kitchen"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """One decomposition cache for the module: each shape is decomposed once (seconds each)."""
    return str(tmp_path_factory.mktemp("mesh-cache"))


def _mug(outer=0.08, height=0.1, wall=0.005) -> trimesh.Trimesh:
    """A watertight cup (z up): a cylinder with a cylindrical cavity open at the top."""
    import manifold3d as mf

    body = mf.Manifold.cylinder(height, outer / 2, outer / 2, 24)
    cavity = mf.Manifold.cylinder(height, outer / 2 - wall, outer / 2 - wall, 24).translate((0, 0, wall))
    m = (body - cavity).to_mesh()
    return trimesh.Trimesh(np.asarray(m.vert_properties)[:, :3], np.asarray(m.tri_verts))


def _obj(oid: str, path: str | None, size=(0.08, 0.08, 0.1), category="mug", centre=(0.0, 0.0, 0.05)) -> SceneObject:
    half = np.asarray(size) / 2
    return SceneObject(id=oid, name=oid, category=category, sim_role=SimRole.MANIPULABLE_OBJECT,
                       position_m=centre, orientation_wxyz=(1.0, 0.0, 0.0, 0.0), extents_m=size,
                       aabb_min_m=tuple(np.asarray(centre) - half), aabb_max_m=tuple(np.asarray(centre) + half),
                       asset=AssetRef(path=path) if path else None)


def _scene(*objects: SceneObject) -> Scene:
    header = SceneHeader(scene_id="meshes", manifest_version="1", source_frame="z_up", source_meters_per_unit=1.0,
                         object_count=len(objects))
    return Scene(header=header, objects=objects)


def _estimate(tmp_path: Path, scene: Scene, cache: str | None = None):
    cfg = SimreadyConfig(meshes=MeshSettings(max_hulls=8, visual_triangles=2000, cache_dir=cache))
    return estimate_scene(scene, cfg, asset_root=str(tmp_path), simready_url=str(tmp_path / "simready"))


def test_a_mug_mesh_gives_hollow_mass_convex_pieces_and_a_fitted_visual(tmp_path, cache):
    _mug().export(tmp_path / "mug.stl")
    physics, summary = _estimate(tmp_path, _scene(_obj("mug", "mug.stl"), _obj("plain", None)), cache)
    mug, plain = physics.objects["mug"], physics.objects["plain"]
    assert summary["meshes"] == 1 and summary["mesh_fallbacks"] == 0
    assert mug.collider.value == "convex_hull" and mug.mesh is not None and plain.mesh is None
    assert mug.mesh.watertight and mug.mesh.hulls >= 2  # the cavity needs more than one convex piece
    # ceramic walls of 5 mm, not a solid ceramic cylinder: well under half the solid one's mass
    solid_mass = 2400 * np.pi * 0.04 ** 2 * 0.1
    assert 0.1 * solid_mass < mug.mass_kg < 0.5 * solid_mass
    assert mug.center_of_mass_m[2] < -0.005  # the heavy bottom lowers the centre of mass
    assert {mug.sources[k] for k in ("mass_kg", "center_of_mass_m", "inertia_diag_kg_m2", "collider")} == {"mesh"}
    mesh = load_meshes(str(tmp_path / "simready"), physics)["mug"]
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    assert np.allclose(hi - lo, (0.08, 0.08, 0.1), atol=1e-4) and np.allclose((lo + hi) / 2, 0, atol=1e-4)
    pieces = np.concatenate(mesh.hulls)
    assert np.all(pieces.min(axis=0) > lo - 2e-3) and np.all(pieces.max(axis=0) < hi + 2e-3)


def test_a_millimetre_mesh_in_a_metre_scene_is_scaled_with_a_note(tmp_path, cache):
    (_mug().apply_scale(1000.0)).export(tmp_path / "mug_mm.stl")
    physics, _ = _estimate(tmp_path, _scene(_obj("mug", "mug_mm.stl")), cache)
    mug = physics.objects["mug"]
    assert mug.mesh is not None and np.allclose(mug.mesh.scale, 0.001, rtol=1e-3)
    assert any("1e+03x" in n and "millimetres" in n for n in mug.notes), mug.notes


def test_a_gltf_mesh_is_turned_from_y_up(tmp_path):
    tall = trimesh.creation.box((0.05, 0.2, 0.03))  # 20 cm along the file's y = up in glTF
    tall.export(tmp_path / "tall.glb")
    physics, _ = _estimate(tmp_path, _scene(_obj("tall", "tall.glb", size=(0.05, 0.03, 0.2), category="box")))
    assert physics.objects["tall"].mesh is not None
    assert np.allclose(physics.objects["tall"].mesh.scale, 1.0, atol=1e-6)


@pytest.mark.parametrize("name, content, reason", [
    ("missing.glb", None, "not found"),
    ("garbage.glb", b"this is not a glb file", "unreadable"),
    ("flat.stl", "flat", "flat bounding box"),
    ("other.stl", "other", "proportions"),
])
def test_bad_assets_fall_back_to_the_primitive_with_the_reason(tmp_path, name, content, reason):
    if content == "flat":
        trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]]).export(tmp_path / name)
    elif content == "other":
        trimesh.creation.box((1.0, 0.05, 0.05)).export(tmp_path / name)  # a rod for a mug
    elif content is not None:
        (tmp_path / name).write_bytes(content)
    physics, summary = _estimate(tmp_path, _scene(_obj("mug", name)))
    mug = physics.objects["mug"]
    assert mug.mesh is None and mug.collider.value != "convex_hull"
    assert summary["mesh_fallbacks"] == 1
    assert any(name in n and reason in n and "primitive" in n for n in mug.notes), mug.notes


def test_a_million_triangle_mesh_is_decimated_for_the_visual(tmp_path):
    big = trimesh.creation.icosphere(subdivisions=8, radius=0.04)  # 1.3 million triangles
    assert len(big.faces) > 1_000_000
    big.export(tmp_path / "big.ply")
    physics, _ = _estimate(tmp_path, _scene(_obj("ball", "big.ply", size=(0.08, 0.08, 0.08), category="ball")))
    ball = physics.objects["ball"]
    assert ball.mesh is not None and ball.mesh.triangles <= 2000
    assert any("decimated" in n for n in ball.notes)
    # a solid rubber-ish ball: the volume of the mesh, near the sphere's
    assert ball.mesh.watertight


def test_a_textured_mesh_keeps_its_image_and_coordinates_through_decimation(tmp_path, cache):
    """A glTF sphere textured by latitude (the image's top half red, its bottom half blue; v up
    the sphere), decimated from 5,120 to 2,000 triangles: the stored visual keeps the image, and
    each kept vertex's coordinates still say its height (the mean of those collapsed into it)."""
    from PIL import Image

    from blueprint_pipeline.simready.meshes import load_object_mesh

    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.04)  # z up: turned y up for the file
    ball.vertices = np.column_stack([ball.vertices[:, 0], ball.vertices[:, 2], -ball.vertices[:, 1]])
    height = ball.vertices[:, 1]  # y up in the file
    uv = np.column_stack([0.5 + 0.5 * np.arctan2(ball.vertices[:, 2], ball.vertices[:, 0]) / np.pi,
                          (height + 0.04) / 0.08])
    image = np.zeros((32, 32, 3), np.uint8)
    image[:16], image[16:] = (220, 30, 30), (30, 30, 220)
    ball.visual = trimesh.visual.TextureVisuals(uv=uv, material=trimesh.visual.material.PBRMaterial(
        baseColorTexture=Image.fromarray(image)))
    ball.export(tmp_path / "ball.glb")
    physics, _ = _estimate(tmp_path, _scene(_obj("ball", "ball.glb", size=(0.08, 0.08, 0.08), category="ball")), cache)
    record = physics.objects["ball"].mesh
    assert record is not None and record.textured and record.triangles <= 2000 < len(ball.faces)
    mesh = load_object_mesh(str(tmp_path / "simready"), record)
    assert mesh.uv is not None and mesh.uv.shape == (len(mesh.vertices), 2)
    with Image.open(io.BytesIO(mesh.texture_png)) as png:
        assert png.size == (32, 32) and png.getpixel((0, 0)) == (220, 30, 30)
    expected_v = (mesh.vertices[:, 2] + 0.04) / 0.08  # z up in the object frame
    assert np.percentile(np.abs(mesh.uv[:, 1] - expected_v), 95) < 0.03


def test_decompositions_are_cached_by_content(tmp_path):
    _mug(wall=0.006).export(tmp_path / "mug.stl")  # a shape of its own: the first decomposition is not cached
    cache = str(tmp_path / "cache")
    scene = _scene(_obj("a", "mug.stl"), _obj("b", "mug.stl", size=(0.07, 0.07, 0.09), centre=(0.2, 0, 0.045)))
    first, s1 = _estimate(tmp_path, scene, cache)
    shutil.rmtree(tmp_path / "simready")
    second, s2 = _estimate(tmp_path, scene, cache)
    assert s1["mesh_files_read"] == 1 and s1["mesh_decompositions_cached"] == 0  # one file, read once
    assert s2["mesh_decompositions_cached"] == 1
    assert first == second  # the same records, files and hashes from the cache
    assert first.objects["a"].mesh.file != first.objects["b"].mesh.file  # fitted to each object's box


def _run(manifest: Path, out: Path, cache: str, only: str | None = None) -> None:
    ctx = StageContext(manifest_url=str(manifest), out_url=str(out),
                       options=RunOptions.create(robot="franka", workers=1),
                       settings=Settings(mesh_cache_dir=cache))
    for stage in ("scene", "simready") if only is None else (only,):
        run_pipeline(ctx, only=stage)


def test_editing_an_asset_file_reruns_simready(tmp_path, cache):
    shutil.copytree(EXAMPLE, tmp_path / "kitchen")
    manifest, out = tmp_path / "kitchen" / "meshed_kitchen.json", tmp_path / "out"
    _run(manifest, out, cache)
    before = json.loads((out / "simready" / "physics.json").read_text())
    marker = (out / "simready" / ".complete.json").read_text()
    _run(manifest, out, cache, only="simready")
    assert (out / "simready" / ".complete.json").read_text() == marker  # unchanged assets: reused
    bottle = next(o for o in json.loads(manifest.read_text())["objects"] if o["id"] == "bottle")
    asset = manifest.parent / bottle["asset"]["path"]
    trimesh.creation.box((0.065, 0.22, 0.065)).export(asset)  # the bottle's file is now a block
    _run(manifest, out, cache, only="simready")
    after = json.loads((out / "simready" / "physics.json").read_text())
    assert after["objects"]["bottle"]["mesh"]["asset_sha256"] != before["objects"]["bottle"]["mesh"]["asset_sha256"]
    assert after["objects"]["bottle"]["mass_kg"] != before["objects"]["bottle"]["mass_kg"]


def test_the_simulator_collides_through_the_pieces_and_draws_the_visual(tmp_path, cache):
    from blueprint_pipeline.robots import robot_by_name
    from blueprint_pipeline.robots.builder import HIDDEN_GEOM_GROUP
    from blueprint_pipeline.sim.scene_builder import SimScene, build_sim_scene
    from blueprint_pipeline.testing.tabletop import TABLE_TOP_Z_M, tabletop_scene

    _mug().export(tmp_path / "mug.stl")
    table_scene, table_physics, _ = tabletop_scene(with_clutter=False)
    mug = _obj("meshmug", "mug.stl", centre=(0.45, 0.1, TABLE_TOP_Z_M + 0.05 + 0.002))
    scene = Scene(header=table_scene.header, objects=(*table_scene.objects, mug))
    physics, _ = _estimate(tmp_path, scene, cache)
    merged = table_physics.model_copy(update={"objects": {**table_physics.objects,
                                                         "meshmug": physics.objects["meshmug"]}})
    meshes = load_meshes(str(tmp_path / "simready"), physics)
    sim = build_sim_scene(scene, merged, robot_by_name("franka"), (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0),
                          meshes=meshes)
    m = sim.model
    pieces = sim.object_geom_ids("meshmug")
    assert len(pieces) == physics.objects["meshmug"].mesh.hulls
    assert all(m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and m.geom_group[g] == HIDDEN_GEOM_GROUP for g in pieces)
    visual = m.geom("obj:meshmug:visual").id
    assert m.geom_contype[visual] == 0 and m.geom_conaffinity[visual] == 0 and m.geom_group[visual] == 0
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    adr = sim.free_qpos_adr("meshmug")
    for _ in range(480):  # 1 s
        mujoco.mj_step(m, d)
    z = d.qpos[adr + 2]
    assert abs(z - (TABLE_TOP_Z_M + 0.05)) < 0.004  # it rests on its bottom on the table, not sunk or flung
    contacts = {(d.contact[i].geom1, d.contact[i].geom2) for i in range(d.ncon)}
    assert any(set(pair) & set(pieces) for pair in contacts)
    assert SimScene.geom_name("meshmug") == m.geom(pieces[0]).name


def test_the_rim_of_an_open_top_mesh_is_found_away_from_its_handle(tmp_path):
    from blueprint_pipeline.simready.meshes import ObjectMesh
    from blueprint_pipeline.simready.rims import find_rim
    from blueprint_pipeline.testing.mesh_assets import MESHES

    def fitted(name: str) -> ObjectMesh:  # the file's y-up mesh turned z-up, as simready reads it
        m = MESHES[name]()
        v = np.column_stack([m.vertices[:, 0], -m.vertices[:, 2], m.vertices[:, 1]])
        return ObjectMesh(v - (v.min(axis=0) + v.max(axis=0)) / 2, np.asarray(m.faces), None, [])

    mug = fitted("mug")
    rim = find_rim(mug.vertices, mug.faces)
    assert rim is not None and 0.003 < rim.wall_m < 0.006  # the 4 mm ceramic wall
    assert rim.depth_m > 0.08  # the cavity, not the bottom
    # the handle is on +x: no rim grasp there (the outer finger would meet it)
    assert 0.0 not in rim.angles_rad and len(rim.angles_rad) >= 8
    assert abs(rim.lean_rad) < np.radians(1.0)  # an upright wall: the hand is not leaned
    bowl_mesh = fitted("bowl")
    bowl = find_rim(bowl_mesh.vertices, bowl_mesh.faces)
    # the bowl's wall curves in below its top: the chord of its inner face, rim to 4.5 cm down
    assert bowl is not None and np.radians(20.0) < bowl.lean_rad < np.radians(28.0)
    for closed in ("bottle", "box"):
        m = fitted(closed)
        assert find_rim(m.vertices, m.faces) is None


@pytest.fixture(scope="module")
def meshed_episodes(tmp_path_factory) -> Path:
    """The meshed kitchen example through the episodes stage (the Franka): its output folder."""
    from blueprint_pipeline.testing.runs import run_to_episodes

    tmp = tmp_path_factory.mktemp("meshed_episodes")
    shutil.copytree(EXAMPLE / "assets", tmp / "assets")
    return run_to_episodes("meshed_kitchen", json.loads((EXAMPLE / "meshed_kitchen.json").read_text()), tmp)


def test_mugs_and_a_bowl_too_wide_for_the_hand_are_picked_by_their_rim(meshed_episodes):
    """The mugs' walls are upright; the bowl's curves in, and the hand leans with it (the pads
    along the wall): upright, its pads pinched the wall at two heights and it tilted out of the hand."""
    from blueprint_pipeline.testing.runs import episode_results

    out = meshed_episodes
    config = json.loads((out / "geniesim" / "task_config.json").read_text())
    rim_tasks = {t["task_id"] for t in config["tasks"] if t["target_object_id"].startswith(("mug", "bowl"))}
    # 7.5 cm and 16 cm across: wider than the Franka hand's 8 cm stroke less its margin
    assert {"pick_place_bowl_to_counter", "pick_place_mug_left_to_counter"} <= rim_tasks
    results = [r for r in episode_results(out) if r["task_id"] in rim_tasks]
    assert results and all(r["success"] for r in results), [(r["task_id"], r["failure_reason"]) for r in results]
    assert {r["metrics"]["grasp_kind"] for r in results} == {"rim"}


def test_the_cartons_printed_texture_reaches_the_renders_the_usd_and_the_bundle(meshed_episodes):
    """The meshed kitchen's box has a base colour texture (a white band with a red disc): the
    episodes' scene file names it next to itself and draws it (no red without it), the usd
    stage's object file and the Genie Sim Aligned.usd sample it through primvars:st."""
    from pxr import Usd, UsdGeom, UsdShade

    physics = json.loads((meshed_episodes / "simready" / "physics.json").read_text())
    assert physics["objects"]["box"]["mesh"]["textured"]
    assert not physics["objects"]["bowl"]["mesh"]["textured"]
    xml = meshed_episodes / "episodes" / "scenes" / "pick_place_box_to_counter.xml"
    model = mujoco.MjModel.from_xml_path(str(xml))  # its texture files are found next to it
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    visual = model.geom("obj:box:visual").id
    cam = mujoco.MjvCamera()
    cam.lookat[:], cam.distance, cam.azimuth, cam.elevation = data.geom_xpos[visual], 0.35, 270.0, -10.0

    def red_share() -> float:
        with mujoco.Renderer(model, 96, 96) as renderer:
            renderer.update_scene(data, cam)
            px = renderer.render().astype(int)
        return float(((px[..., 0] > px[..., 1] + 60) & (px[..., 0] > px[..., 2] + 60)).mean())

    assert red_share() > 0.005  # the disc
    model.mat_texid[model.geom_matid[visual]] = -1
    assert red_share() == 0.0
    for layer in (meshed_episodes / "usd" / "objects" / "box.usda",
                  next((meshed_episodes / "geniesim" / "native" / "objects").glob("box/*/Aligned.usd"))):
        stage = Usd.Stage.Open(str(layer))
        mesh = next(UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh) and p.GetName() != "Piece0"
                    and "Collider" not in str(p.GetPath()))
        st = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get()
        assert len(st) == len(mesh.GetPointsAttr().Get())
        material = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()[0]
        image = next(UsdShade.Shader(p) for p in Usd.PrimRange(material.GetPrim()) if p.GetName() == "Image")
        path = image.GetInput("file").Get()
        assert (layer.parent / path.path).is_file(), (layer, path)


def test_a_plan_that_swings_the_arm_gives_way_to_the_next_grasp(meshed_episodes, monkeypatch):
    """The planner keeps a plan slowed down more than SLOW_STRETCH-fold (a wrist near its limit, the
    shoulder and upper arm swinging while the hand lifts) only when none of the next
    SLOW_MORE_TRIES grasps plans without. With IK knots 5 cm apart a start of the bowl's made its
    first rim grasp's 27 cm lift 23-fold slower; with 10 cm knots none of 40 starts slows more than
    6.1-fold, so the rule is shown here at 4-fold, where the start drawn 8th has a 6.1-fold plan."""
    from blueprint_pipeline.sim import engine, planner
    from blueprint_pipeline.sim.episode import EpisodeOptions
    from blueprint_pipeline.sim.families import family_of
    from blueprint_pipeline.sim.scenes import sim_for

    monkeypatch.setattr(planner, "SLOW_STRETCH", 4.0)
    sim, task = sim_for(str(meshed_episodes), "franka", "pick_place_bowl_to_counter", choose_camera=False)
    _, planned, _ = engine.begin_and_plan(family_of(task), sim, task, 8, 0, EpisodeOptions())
    assert planned.plan.stretch <= planner.SLOW_STRETCH
    monkeypatch.setattr(planner, "SLOW_MORE_TRIES", 0)  # the first plan found, however slow
    _, slow, _ = engine.begin_and_plan(family_of(task), sim, task, 8, 0, EpisodeOptions())
    assert slow.plan.stretch > planner.SLOW_STRETCH and slow.plan.n_ticks > 1.5 * planned.plan.n_ticks
    assert slow.plan.candidates_tried < planned.plan.candidates_tried


def _tape_roll() -> trimesh.Trimesh:
    """A roll of packing tape (z up): 10 cm across, a 12 mm wall round a hole that goes through."""
    import manifold3d as mf

    ring = mf.Manifold.cylinder(0.05, 0.05, 0.05, 64) - mf.Manifold.cylinder(0.06, 0.038, 0.038, 64).translate((0, 0, -0.005))
    m = ring.to_mesh()
    v = np.asarray(m.vert_properties)[:, :3]
    return trimesh.Trimesh(v - (v.min(axis=0) + v.max(axis=0)) / 2, np.asarray(m.tri_verts))


def test_antipodal_grasps_are_pairs_of_facing_surfaces():
    from blueprint_pipeline.simready.antipodal import CONE_RAD, find_antipodal

    tape = _tape_roll()
    grasps = find_antipodal(tape.vertices, tape.faces)
    across_wall = [g for g in grasps if abs(g.axis[2]) < 0.1]  # through the wall, radially
    assert across_wall and all(abs(g.width_m - 0.012) < 0.001 for g in across_wall)
    for g in across_wall:
        radius = np.hypot(*g.centre_m[:2])
        assert 0.038 < radius < 0.05 and abs(np.dot(g.axis[:2], np.asarray(g.centre_m[:2]) / radius)) > 0.95
    assert all(g.angle_rad <= CONE_RAD for g in grasps)
    box = trimesh.creation.box((0.06, 0.2, 0.1))  # too long for the hand one way only
    widths = {round(g.width_m, 3) for g in find_antipodal(box.vertices, box.faces)}
    assert widths <= {0.06}  # 20 cm and 10 cm are beyond any stroke; 6 cm across


def test_antipodal_grasps_are_cached_by_content(tmp_path, monkeypatch):
    from blueprint_pipeline.simready import antipodal

    tape = _tape_roll()
    first = antipodal.antipodal_cached(tape.vertices, tape.faces, str(tmp_path))
    monkeypatch.setattr(antipodal, "find_antipodal", lambda v, f: pytest.fail("sampled again"))
    assert antipodal.antipodal_cached(tape.vertices, tape.faces, str(tmp_path)) == first
    moved = tape.vertices + [0.001, 0.0, 0.0]  # other triangles: another entry
    with pytest.raises(pytest.fail.Exception):
        antipodal.antipodal_cached(moved, tape.faces, str(tmp_path))


def test_a_roll_of_tape_is_picked_by_its_wall(tmp_path):
    """The roll is 10 cm across, wider than the hand, and its hole goes through (no rim): only its
    antipodal grasps fit (one finger in the hole), and the Franka picks it by them."""
    from blueprint_pipeline.testing import mesh_assets
    from blueprint_pipeline.testing.runs import episode_results, run_to_episodes

    shutil.copytree(EXAMPLE / "assets", tmp_path / "assets")
    tape = _tape_roll()
    tape.vertices = np.column_stack([tape.vertices[:, 0], tape.vertices[:, 2], -tape.vertices[:, 1]])  # y up
    (tmp_path / "assets" / "tape.glb").write_bytes(mesh_assets.glb_bytes("tape", tape))
    manifest = json.loads((EXAMPLE / "meshed_kitchen.json").read_text())
    box = next(o for o in manifest["objects"] if o["id"] == "box")  # the roll stands where the box did
    box.update(id="tape", name="Roll of tape", category="tape", description="A roll of packing tape",
               dimensions_est={"width": 0.1, "depth": 0.1, "height": 0.05},
               physics_hints={"material_type": "plastic"}, semantics={"class": "tape", "affordances": ["Graspable"]},
               relationships=[{"type": "on", "subject_id": "tape", "object_id": "counter"}])
    box["transform"]["position"]["z"] = 0.925
    box["asset"].update(path="assets/tape.glb", asset_id="bp-tape")
    out = run_to_episodes("meshed_kitchen", manifest, tmp_path)
    mesh = json.loads((out / "simready" / "physics.json").read_text())["objects"]["tape"]["mesh"]
    assert mesh["rim"] is None and mesh["antipodal"]
    results = [r for r in episode_results(out) if r["task_id"] == "pick_place_tape_to_counter"]
    assert results and all(r["success"] and r["metrics"]["grasp_kind"] == "antipodal" for r in results), results


def test_an_open_non_manifold_mesh_is_used_with_a_thin_shell_mass(tmp_path, cache):
    box = trimesh.creation.box((0.06, 0.06, 0.12))
    open_box = trimesh.Trimesh(box.vertices, box.faces[:-2])  # one face missing: not closed
    assert not open_box.is_watertight
    open_box.export(tmp_path / "open.ply")
    physics, summary = _estimate(tmp_path, _scene(_obj("carton", "open.ply", size=(0.06, 0.06, 0.12), category="box")),
                                 cache)
    carton = physics.objects["carton"]
    assert summary["mesh_fallbacks"] == 0 and carton.mesh is not None and not carton.mesh.watertight
    assert any("shell over the mesh's surface" in n for n in carton.notes), carton.notes
