"""One of each concept: rotations, seeding, the robot registry, the normalised-scene reader."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blueprint_pipeline import rotations
from blueprint_pipeline.seeding import item_rng, seed_key


def _rx(a: float) -> np.ndarray:
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def _ry(a: float) -> np.ndarray:
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _rz(a: float) -> np.ndarray:
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


@pytest.mark.parametrize("rpy", [(0.1, 0.2, 0.3), (-1.2, 0.7, 2.9), (math.pi / 2, 0.0, -math.pi / 2)])
def test_euler_angles_are_rz_ry_rx(rpy):
    roll, pitch, yaw = rpy
    q = rotations.quat_from_euler(roll, pitch, yaw)
    np.testing.assert_allclose(rotations.matrix_np(q), _rz(yaw) @ _ry(pitch) @ _rx(roll), atol=1e-12)
    np.testing.assert_allclose(np.array(rotations.quat_to_matrix(q)), _rz(yaw) @ _ry(pitch) @ _rx(roll), atol=1e-12)


def test_products_frames_and_round_trips():
    qa, qb = rotations.quat_from_euler(0.3, -0.2, 1.1), rotations.yaw_quat(0.8)
    np.testing.assert_allclose(rotations.matrix_np(rotations.quat_mul(qa, qb)),
                               rotations.matrix_np(qa) @ rotations.matrix_np(qb), atol=1e-12)
    np.testing.assert_allclose(rotations.matrix_np(rotations.yaw_quat(0.8)), _rz(0.8), atol=1e-12)
    back = rotations.matrix_to_quat(rotations.matrix_np(qa))
    assert abs(float(np.dot(back, qa))) == pytest.approx(1.0)
    # y-up -> z-up: a turn about y (up in y-up data) becomes a turn about z
    turned = rotations.quat_in_frame(rotations.Y_UP_TO_Z_UP, (math.cos(0.4), 0.0, math.sin(0.4), 0.0))
    np.testing.assert_allclose(turned, (math.cos(0.4), 0.0, 0.0, math.sin(0.4)), atol=1e-12)
    assert rotations.quat_normalise((-2.0, 0.0, 0.0, 0.0)) == (1.0, 0.0, 0.0, 0.0)


def test_box_aabb_of_a_box_turned_45_degrees():
    lo, hi = rotations.box_aabb((1.0, 2.0, 3.0), rotations.yaw_quat(math.pi / 4), (2.0, 2.0, 1.0))
    half = math.sqrt(2.0)
    np.testing.assert_allclose(lo, (1 - half, 2 - half, 2.5), atol=1e-12)
    np.testing.assert_allclose(hi, (1 + half, 2 + half, 3.5), atol=1e-12)


def test_one_seeding_recipe_keys_by_scene_stage_item_and_seed():
    a = item_rng("kitchen", "episodes", "task_1", 3, 7).random(4)
    assert np.array_equal(a, item_rng("kitchen", "episodes", "task_1", 3, 7).random(4))
    for other in (("office", "episodes", "task_1", 3, 7), ("kitchen", "synth", "task_1", 3, 7),
                  ("kitchen", "episodes", "task_2", 3, 7), ("kitchen", "episodes", "task_1", 4, 7),
                  ("kitchen", "episodes", "task_1", 3, 8)):
        assert not np.array_equal(a, item_rng(*other).random(4))
    for bad in (1.5, True, None):
        with pytest.raises(ValueError):
            seed_key("s", "t", bad)


def test_synthetic_manifests_keep_their_streams():
    """`blueprint synth` draws cell i of seed s from item_rng(scene_id, "synth", i, s): the same file
    for the same seed as before the recipe was shared (sha256 of "scene|synth|i|s")."""
    import hashlib

    from blueprint_pipeline.scene.synth import STAGE, cell_rng

    digest = hashlib.sha256(f"synthetic_10_4|{STAGE}|2|4".encode()).digest()
    before = np.random.default_rng(int.from_bytes(digest[:16], "little"))
    assert np.array_equal(cell_rng("synthetic_10_4", 2, 4).random(6), before.random(6))


def test_the_export_reads_the_simulated_robots_from_the_registry():
    from blueprint_pipeline.geniesim.robots import ROBOTS as EXPORTED
    from blueprint_pipeline.robots.description import ROBOTS

    for name, desc in ROBOTS.items():
        config = EXPORTED[name].config
        assert (config.reach_m, config.dof, config.gripper_stroke_m) == (desc.reach_m, desc.dof, desc.gripper.stroke_m)
        assert EXPORTED[name].shoulders_base_m == ((0.0, 0.0, desc.shoulder_height_m),)
    # the data sheets: Franka Hand 80 mm, Robotiq 2F-85 (the UR10's gripper) 85 mm
    assert ROBOTS["franka"].gripper.stroke_m == pytest.approx(0.08)
    assert ROBOTS["ur10"].gripper.stroke_m == pytest.approx(0.085)


def test_the_header_reader_reads_only_the_first_line(tmp_path):
    from blueprint_pipeline.scene.io import read_header, write_normalized
    from blueprint_pipeline.testing.tabletop import tabletop_scene

    scene = tabletop_scene()[0]
    url = str(tmp_path / "normalized.jsonl")
    write_normalized(url, scene.header, scene.objects)
    with open(url, "a", encoding="utf-8") as f:
        f.write("not json\n")  # objects are never parsed
    assert read_header(url) == scene.header
