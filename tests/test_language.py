"""Episode instructions (sim/language.py): templates per family, grounded in the manifest, drawn per episode."""

from __future__ import annotations

import string

import numpy as np
import pytest

from blueprint_pipeline.robots.description import FRANKA
from blueprint_pipeline.sim import language
from blueprint_pipeline.sim.scene_builder import build_sim_scene
from blueprint_pipeline.testing.tabletop import drawer_scene, tabletop_scene


def _sim(scene, physics, config, robot=FRANKA):
    placement = config.tasks[0].robot_placements[robot.name]
    return build_sim_scene(scene, physics, robot, placement.base_position_m, placement.base_orientation_wxyz)


def _renamed(scene, names: dict[str, tuple[str, str]]):
    objects = tuple(o.model_copy(update={"name": names[o.id][0], "description": names[o.id][1]})
                    if o.id in names else o for o in scene.objects)
    return scene.model_copy(update={"objects": objects})


@pytest.fixture(scope="module")
def table():
    scene, physics, config = tabletop_scene()
    scene = _renamed(scene, {"box_target": ("Tea box (small)", "A green tea box"), "mug": ("Coffee mug", ""),
                             "box_a": ("Sugar box", ""), "box_b": ("Cereal box", "")})
    return _sim(scene, physics, config), config.tasks[0]


def test_every_family_has_five_templates_with_known_fields():
    for fam, templates in language.TEMPLATES.items():
        assert len(set(templates)) >= 5, fam
        for t in templates:
            fields = {f for _, f, _, _ in string.Formatter().parse(t) if f}
            assert fields <= {"target", "goal", "direction", "carrier"} and "target" in fields, (fam, t)
            assert ("carrier" in fields) == (fam == "pick_place_off"), (fam, t)


def test_instructions_vary_per_episode_and_repeat_per_seed(table):
    sim, task = table
    drawn = [language.instruction(sim, task, i, seed=0) for i in range(40)]
    assert len(set(drawn)) >= 5
    assert drawn == [language.instruction(sim, task, i, seed=0) for i in range(40)]  # reproducible
    assert drawn != [language.instruction(sim, task, i, seed=1) for i in range(40)]  # the seed matters
    for text in drawn:
        assert "tea box" in text and "(" not in text and "small" not in text  # the parenthesis is dropped
        assert "table" in text or "left" in text or "right" in text or "closer" in text or "back" in text
        assert text == text.lower() and not text.endswith(".")


def test_referring_expressions_use_colour_material_and_neighbours(table):
    sim, task = table
    target = sim.scene.by_id()["box_target"]
    forms = {language.refer(sim, target, np.random.default_rng(i)) for i in range(60)}
    # colour from the description, material from the physics record (plastic), the nearest neighbour:
    # the coffee mug at (0.42, 0.02) is left of the box at (0.50, -0.15) seen from the base facing +x
    assert forms == {"tea box", "green tea box", "plastic tea box", "tea box right of the coffee mug"}


def test_namesakes_are_told_apart():
    scene, physics, config = tabletop_scene()
    named = {"box_target": ("Mug", "a red mug"), "mug": ("Mug", "blue"), "box_a": ("Sugar box", ""),
             "box_b": ("Cereal box", "")}
    sim = _sim(_renamed(scene, named), physics, config)
    target = sim.scene.by_id()["box_target"]
    forms = {language.refer(sim, target, np.random.default_rng(i)) for i in range(60)}
    # never the bare name: the colour tells the two mugs apart, and so does the nearest other object
    # (the sugar box at (0.66, -0.02); the other mug, though nearer, has the same name)
    assert forms == {"red mug", "mug in front of the sugar box"}
    sim.scene = _renamed(sim.scene, {"box_target": ("Mug", ""), "mug": ("Mug", "")})
    forms = {language.refer(sim, sim.scene.by_id()["box_target"], np.random.default_rng(i)) for i in range(60)}
    assert forms == {"mug in front of the sugar box"}


def test_family_follows_the_task_record(table):
    sim, task = table
    assert language.family(sim, task) == "pick_place_same"  # the goal is on the target's own table
    other = task.model_copy(update={"goal": task.goal.model_copy(update={"support_object_id": "elsewhere"})})
    assert language.family(sim, other) == "pick_place"
    assert language.family(sim, task.model_copy(update={"type": "stack"})) == "stack"
    scene, physics, config = drawer_scene()
    drawer_sim = _sim(scene, physics, config)
    drawer_task = config.tasks[0]
    assert language.family(drawer_sim, drawer_task) == "open_drawer"
    texts = {language.instruction(drawer_sim, drawer_task, i, 0) for i in range(30)}
    assert len(texts) >= 5 and all("drawer" in t for t in texts)
    closing = drawer_task.model_copy(update={"joint_start_fraction": 0.8, "joint_target_fraction": 0.0})
    assert language.family(drawer_sim, closing) == "close_drawer"
    texts = {language.instruction(drawer_sim, closing, i, 0) for i in range(30)}
    assert len(texts) >= 5 and all("drawer" in t and "open" not in t for t in texts)
