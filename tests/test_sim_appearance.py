"""How rendered scenes look: materials and colour words from the manifest, tileable textures,
lights from the room, per-episode visual randomisation and shadows (sim/appearance.py)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import test_dataset_fixtures  # noqa: F401 - sets MUJOCO_GL before mujoco renders

from blueprint_pipeline.robots import FRANKA
from blueprint_pipeline.scene.records import Scene
from blueprint_pipeline.sim.appearance import (
    COLOUR_RGB,
    FAR_FLOOR_DROP_M,
    FLOOR_CELL_MIN_M,
    FLOOR_GRID_LINES,
    FLOOR_MARGIN_M,
    LOOKS,
    TEXTURES,
    object_rgb,
    texture_pixels,
)
from blueprint_pipeline.sim.randomize import prepare_rendering
from blueprint_pipeline.sim.render import make_renderer
from blueprint_pipeline.sim.scene_builder import VISUAL_FIELDS, SimScene, build_sim_scene
from blueprint_pipeline.simready.materials import MATERIALS
from blueprint_pipeline.testing.tabletop import tabletop_scene


def _build(scene: Scene, physics, config) -> SimScene:
    pl = config.tasks[0].robot_placements["franka"]
    return build_sim_scene(scene, physics, FRANKA, pl.base_position_m, pl.base_orientation_wxyz)


@pytest.fixture(scope="module")
def inputs():
    return tabletop_scene()


@pytest.fixture(scope="module")
def sim(inputs) -> SimScene:
    return _build(*inputs)


def _render(sim: SimScene, size: int = 96) -> np.ndarray:
    m = sim.model
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_forward(m, d)
    renderer = make_renderer(m, size, size)
    try:
        renderer.update_scene(d, camera="scene_cam")
        return renderer.render().copy()
    finally:
        renderer.close()


def test_every_material_of_the_table_has_a_look():
    assert set(MATERIALS) <= set(LOOKS)
    assert {look.texture for look in LOOKS.values()} - {None} == set(TEXTURES)


def test_colours_come_from_colour_words_then_the_material():
    red, look = object_rgb("Red mug", "", "mug", "ceramic")
    np.testing.assert_array_equal(red, COLOUR_RGB["red"])
    assert look is LOOKS["ceramic"]
    described, _ = object_rgb("Mug", "a white porcelain mug", "mug", "ceramic")
    np.testing.assert_array_equal(described, COLOUR_RGB["white"])
    wood, look = object_rgb("Table", "", "table", "wood")
    assert look.texture == "wood"
    assert np.all(np.abs(wood / np.array(LOOKS["wood"].rgb) - 1) <= LOOKS["wood"].jitter + 1e-9)
    assert wood[0] > wood[1] > wood[2]  # a tint keeps wood brown
    unknown, look = object_rgb("Thing", "", "thing", "unobtainium")
    assert look.texture is None and np.allclose(unknown, 0.6, atol=0.06)


@pytest.mark.parametrize("kind", TEXTURES)
def test_textures_tile_without_a_seam(kind):
    px = texture_pixels(kind).astype(float)[..., 0]
    assert px.std() > 3.0  # a pattern, not a flat grey
    for axis in (0, 1):
        inner = np.abs(np.diff(px, axis=axis)).mean()
        seam = np.abs(px.take(0, axis=axis) - px.take(-1, axis=axis)).mean()
        assert seam <= 3.0 * inner + 1.0, (kind, axis, seam, inner)


def test_objects_are_painted_with_their_materials(sim):
    m = sim.model
    for oid in [*sim.dynamic_ids, *sim.fixed_ids]:
        for g in sim.object_geom_ids(oid) if oid in sim.dynamic_ids else [m.geom(sim.geom_name(oid)).id]:
            mat = m.geom_matid[g]
            assert mat >= 0 and m.material(mat).name == f"mat:{oid}"
            np.testing.assert_allclose(m.geom_rgba[g], m.mat_rgba[mat])
    wood_table = m.material("mat:table")
    assert m.tex(m.mat_texid[wood_table.id, mujoco.mjtTextureRole.mjTEXROLE_RGB]).name == "tex_wood"


def test_lights_follow_the_room(inputs):
    scene, physics, config = inputs
    no_room = _build(scene, physics, config)
    assert no_room.model.nlight == 1  # the objects' box grown by 0.5 m: under 3 m a side
    header = scene.header.model_copy(update={"room_size_m": (7.0, 5.5, 2.6), "room_origin_m": (-3.5, -2.75, 0.0)})
    room = _build(scene.model_copy(update={"header": header}), physics, config)
    m = room.model
    assert m.nlight == 2  # one per 3 m of the longer side (x), at most 2
    assert np.all(m.light_pos[:, 2] == pytest.approx(2.55))
    np.testing.assert_allclose(sorted(m.light_pos[:, 0]), [-1.75, 1.75])
    np.testing.assert_allclose(m.light_pos[:, 1], 0.0, atol=1e-12)
    assert not m.light_castshadow.any() and m.vis.quality.shadowsize == 0


def test_visual_randomisation_is_drawn_per_episode_within_its_ranges_and_undone(sim):
    m = sim.model
    sim.restore_nominal()
    nominal = {k: getattr(m, k).copy() for k in VISUAL_FIELDS}
    prepare_rendering(sim, "task", seed=0, episode_index=0, shadows=False, visuals=True)
    first = {k: getattr(m, k).copy() for k in nominal}
    cam = m.camera("scene_cam").id
    assert np.all(np.abs(first["cam_pos"][cam] - nominal["cam_pos"][cam]) <= 0.02)
    moved = first["light_pos"] - nominal["light_pos"]
    assert np.all(np.abs(moved[:, :2]) <= 0.5) and np.all(np.abs(moved[:, 2]) <= 0.1) and np.any(moved != 0)
    ratio = first["mat_rgba"][:, :3] / np.maximum(nominal["mat_rgba"][:, :3], 1e-9)
    table = m.material("mat:table").id
    assert not np.allclose(ratio[table], 1.0) and np.all(np.abs(ratio[table] - 1) <= LOOKS["wood"].jitter + 1e-9)
    assert 0.8 <= first["mat_texrepeat"][table][0] / nominal["mat_texrepeat"][table][0] <= 1.25
    sim.restore_nominal()
    for k, v in nominal.items():
        np.testing.assert_array_equal(getattr(m, k), v, err_msg=k)
    prepare_rendering(sim, "task", seed=0, episode_index=0, shadows=False, visuals=True)  # the same draw again
    for k, v in first.items():
        np.testing.assert_array_equal(getattr(m, k), v, err_msg=k)
    sim.restore_nominal()
    prepare_rendering(sim, "task", seed=0, episode_index=1, shadows=False, visuals=True)
    assert not np.array_equal(m.mat_rgba, first["mat_rgba"])
    sim.restore_nominal()
    prepare_rendering(sim, "task", seed=0, episode_index=1, shadows=False, visuals=False)  # switched off
    for k, v in nominal.items():
        np.testing.assert_array_equal(getattr(m, k), v, err_msg=k)


def test_randomised_look_and_shadows_reach_the_images(sim):
    sim.restore_nominal()
    prepare_rendering(sim, "task", 0, 0, shadows=False, visuals=False)
    plain = _render(sim)
    prepare_rendering(sim, "task", 0, 0, shadows=False, visuals=True)
    drawn = _render(sim)
    sim.restore_nominal()
    prepare_rendering(sim, "task", 0, 0, shadows=True, visuals=False)
    shadowed = _render(sim)
    prepare_rendering(sim, "task", 0, 0, shadows=False, visuals=False)
    assert np.abs(drawn.astype(int) - plain).mean() > 2.0
    # shadows only darken: the lit image is brighter somewhere and nowhere much darker
    diff = plain.astype(int) - shadowed
    assert (diff > 20).mean() > 0.005 and (diff < -20).mean() < 0.001


def test_the_look_changes_no_physics(inputs):
    """Two scenes that differ only in colour words and lights step identically."""
    scene, physics, config = inputs
    plain = _build(scene, physics, config)
    objects = [o.model_copy(update={"name": f"red {o.name}"}) for o in scene.objects]
    header = scene.header.model_copy(update={"room_size_m": (7.0, 5.5, 2.6), "room_origin_m": (-3.5, -2.75, 0.0)})
    other = _build(scene.model_copy(update={"objects": objects, "header": header}), physics, config)
    states = []
    for s in (plain, other):
        d = mujoco.MjData(s.model)
        mujoco.mj_resetDataKeyframe(s.model, d, s.model.key("home").id)
        mujoco.mj_step(s.model, d, 500)
        states.append(d.qpos.copy())
    np.testing.assert_array_equal(states[0], states[1])


def _single(m: mujoco.MjModel, d: mujoco.MjData, camera: int, size: int, samples: int) -> np.ndarray:
    """One camera drawn by MuJoCo's own renderer with `samples` multisamples, its context made
    as FrameRenderer makes its own (the tessellation and texture filtering of sim/render.py)."""
    from blueprint_pipeline.sim.render import TESSELLATION, _nearest_mipmap

    q = m.vis.quality
    saved = {name: getattr(q, name) for name in [*TESSELLATION, "offsamples"]}
    for name, value in {**TESSELLATION, "offsamples": samples}.items():
        setattr(q, name, value)
    try:
        renderer = make_renderer(m, size, size)
    finally:
        for name, value in saved.items():
            setattr(q, name, value)
    try:
        _nearest_mipmap(renderer._mjr_context)
        renderer.update_scene(d, camera=camera)
        return renderer.render().copy()
    finally:
        renderer.close()


def test_the_floor_is_drawn_to_the_horizon_in_a_bounded_grid(inputs):
    """The floor plane is drawn over the room in at most FLOOR_GRID_LINES lines a side (an infinite
    plane is a 200 x 200 grid), and a plane drawn only, just under it, carries the floor from there
    to the horizon: without it a camera looking level sees a black band under the horizon."""
    scene, physics, config = inputs
    header = scene.header.model_copy(update={"room_size_m": (7.0, 5.5, 2.6), "room_origin_m": (-3.5, -2.75, 0.0)})
    m = _build(scene.model_copy(update={"header": header}), physics, config).model
    floor, far = m.geom("floor").id, m.geom("floor_far").id
    reach, _, cell = m.geom_size[floor]
    assert reach == pytest.approx(3.5 + FLOOR_MARGIN_M) and m.geom_size[floor][1] == reach
    assert 2 * reach / cell <= FLOOR_GRID_LINES and cell >= FLOOR_CELL_MIN_M
    assert m.geom_contype[far] == 0 and m.geom_conaffinity[far] == 0  # drawn only
    assert m.geom_pos[far][2] == pytest.approx(m.geom_pos[floor][2] - FAR_FLOOR_DROP_M)
    assert m.geom_matid[far] == m.geom_matid[floor]
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_forward(m, d)
    cam = mujoco.MjvCamera()  # 1.5 m up at the world's origin, looking along -y, 5 deg down
    cam.azimuth, cam.elevation, cam.distance = -90.0, -5.0, 1.0
    cam.lookat[:] = [0.0, -np.cos(np.radians(5)), 1.5 - np.sin(np.radians(5))]
    deg = 128 / m.vis.global_.fovy  # rows per degree
    horizon, edge = 64 - 5 * deg, 64 + (np.degrees(np.arctan(1.5 / reach)) - 5) * deg
    band = slice(int(horizon) + 3, int(edge) - 3)  # floor beyond the room's floor, under the horizon
    renderer = make_renderer(m, 128, 128)
    try:
        renderer.update_scene(d, camera=cam)
        drawn = renderer.render().copy()
        m.geom_rgba[far, 3] = 0.0
        renderer.update_scene(d, camera=cam)
        without = renderer.render().copy()
    finally:
        renderer.close()
    assert band.stop - band.start >= 5
    assert drawn[band].mean() > 20 and without[band].mean() < 2
    assert drawn[:int(horizon) - 3].mean() < 2  # above the horizon: the background either way


def test_the_scene_keeps_the_size_mujoco_gives_it_with_an_infinite_floor(sim):
    """The drawn floors would make MuJoCo's statistic (whose extent sets the cameras' near clipping
    distance) 20 m wide: it is set as MuJoCo computes it for the same scene with an infinite floor
    and no far floor, which is checked here by compiling that scene."""
    m = sim.model
    assert m.stat.extent < 5.0
    spec = sim.spec.copy()
    spec.geom("floor").size = [0.0, 0.0, 0.05]
    spec.delete(spec.geom("floor_far"))
    spec.stat.extent, spec.stat.center = float("nan"), [float("nan")] * 3  # MuJoCo's own
    plain = spec.compile()
    assert m.stat.extent == pytest.approx(plain.stat.extent, abs=1e-12)
    np.testing.assert_allclose(m.stat.center, plain.stat.center, atol=1e-12)
    assert sim.spec.stat.extent == m.stat.extent  # the MJCF written keeps it


def test_small_frames_are_supersampled_and_large_ones_multisampled(sim):
    """A 128x128 frame is the 2x2 average of a 256x256 render without multisampling (cheaper than
    4x multisampling on Mesa's software renderer, sim/render.py); a 224x224 frame is
    multisampled. Both cameras are drawn side by side into one buffer and each comes out as MuJoCo's
    own renderer draws it alone, up to one grey level in a few pixels (the rasteriser rounds a little
    differently at another x offset). The model's sample count, tessellation and buffer size are
    left as they were."""
    from blueprint_pipeline.sim.render import FrameRenderer

    m = sim.model
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_forward(m, d)
    cams = [m.camera("scene_cam").id, m.camera(sim.names.wrist_camera).id]
    q = m.vis.quality
    before = (q.offsamples, q.numslices, q.numstacks, q.numquads, m.vis.global_.offwidth, m.vis.global_.offheight)
    samples = int(q.offsamples)
    small = FrameRenderer(m, 128)
    assert small.factor == 2 and samples == 4
    assert (q.offsamples, q.numslices, q.numstacks, q.numquads, m.vis.global_.offwidth, m.vis.global_.offheight) == before
    frames = small.render_views(d, cams)
    alone = small.render_views(d, cams[1:])[0]
    small.close()
    for cam, frame in zip(cams, frames):
        assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
        mean = _single(m, d, cam, 256, 0).astype(float).reshape(128, 2, 128, 2, 3).mean(axis=(1, 3))
        err = np.abs(frame - mean)
        assert err.max() <= 0.75 + 1e-9 and np.mean(err > 0.5 + 1e-9) < 1e-3  # the average, rounded
        assert frame.std() > 5.0  # a picture, not a blank
    assert np.abs(alone.astype(int) - frames[1]).max() <= 1  # one camera alone, as drawn beside the other
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 5.0  # two different pictures
    large = FrameRenderer(m, 224)
    assert large.factor == 1
    frames = large.render_views(d, cams)
    large.close()
    for cam, frame in zip(cams, frames):
        err = np.abs(frame.astype(int) - _single(m, d, cam, 224, samples))
        assert err.max() <= 1 and np.mean(err > 0) < 1e-3


def test_a_shared_renderer_is_reused_and_sees_new_texture_repeats(sim):
    """`FrameRenderer.shared` keeps the renderer for the next episode of the same model; the
    texture repeats the context copied when it was made are copied again (visual randomisation
    changes them per episode), so its frames equal a new renderer's up to one grey level (MuJoCo
    lays out a floor plane's grid when the context is made, from its material's repeats, which
    shifts the lighting interpolated across the floor by one level in a few per cent of pixels)."""
    from blueprint_pipeline.sim.render import FrameRenderer

    m = sim.model
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_forward(m, d)
    cams = [m.camera("scene_cam").id]
    first = FrameRenderer.shared(m, 128)
    before = first.render_views(d, cams)[0]
    saved = m.mat_texrepeat.copy()
    try:
        m.mat_texrepeat[:] = saved * 3.0
        again = FrameRenderer.shared(m, 128)
        assert again is first
        changed = again.render_views(d, cams)[0]
        fresh = FrameRenderer(m, 128)
        try:
            assert np.abs(changed.astype(int) - fresh.render_views(d, cams)[0]).max() <= 1
        finally:
            fresh.close()
    finally:
        m.mat_texrepeat[:] = saved
    assert np.abs(changed.astype(int) - before).mean() > 0.5  # the repeats show
    other = FrameRenderer.shared(m, 96)  # another size: the first is closed and replaced
    assert other is not first and first._ctx is None
    other.close()
