"""The language instruction of an episode: a template of the task's family, filled with words the
manifest holds, drawn from the episode's own stream.

Families and their templates (`TEMPLATES`, at least five each): pick_place on the same support,
pick_place to another support, pick_place on a shelf, pick_place off a free object it stands on (a
tray), place_in (a pick_place into a container), stack, push, open or close a drawer, open or
close a door. Which family a task is follows from its record: the target standing on a free object, the
goal's support against the target's support (a container, an open shelving unit), the joint being
prismatic or revolute, the part starting closed or open (`TaskSpec.joint_start_fraction`).

Referring expressions (`refer`), all from the manifest:
- the name, in lower-case words, a parenthesis dropped ("Laptop (closed)" -> "laptop"); a name of
  more than four words is replaced by the category;
- a colour word from the name or the description ("Coffee mug" described "white" -> "white coffee
  mug");
- the material's adjective, from the physics record ("ceramic mug", "wooden bowl"), when it is
  not in the name already;
- a relative position to the nearest other free object on the same support within 35 cm, as the
  robot sees it: its base frame's +y is left, nearer the base is "in front of" ("the mug left of
  the bowl").
When another free object has the same name, the plain name is not offered: the colour word, if
it tells them apart, or the relative position is used. Instructions are lower-case, with no full
stop, as Genie Sim's and LeRobot's shipped tasks are.

The draw comes from `seeding.item_rng(scene, "instruction", task, episode index, seed)`, a stream
of its own, so adding a template never changes the physics randomisation of an episode. In the
episodes stage the template is not drawn but dealt: each task has its own shuffled order of its
family's templates (a stream of (scene, "templates", task, seed)) and the episode's rank among
the task's episodes picks from it (sim/dealing.py), so five episodes of a task read five ways. The
task's record keeps its one canonical description (`TaskSpec.description`) for the Genie Sim
export; every episode's dataset row carries its drawn instruction (`meta/tasks.parquet` holds
each distinct one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.geniesim.tasks import task_family
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.seeding import item_rng
from blueprint_pipeline.simready.words import raw_words
from blueprint_pipeline.sim.scene_builder import SimScene, support_among
from blueprint_pipeline.sim.appearance import colour_word  # the colour words renders paint

TEMPLATES: dict[str, tuple[str, ...]] = {
    "pick_place": (
        "pick up the {target} and place it on the {goal}",
        "put the {target} on the {goal}",
        "move the {target} onto the {goal}",
        "place the {target} on the {goal}",
        "grab the {target} and set it down on the {goal}",
        "take the {target} and put it on the {goal}",
    ),
    "pick_place_off": (
        "take the {target} off the {carrier} and put it on the {goal}",
        "lift the {target} off the {carrier} and place it on the {goal}",
        "remove the {target} from the {carrier} and set it down on the {goal}",
        "pick the {target} up from the {carrier} and put it on the {goal}",
        "move the {target} from the {carrier} onto the {goal}",
    ),
    "place_in": (
        "put the {target} into the {goal}",
        "place the {target} in the {goal}",
        "drop the {target} into the {goal}",
        "pick up the {target} and put it in the {goal}",
        "move the {target} into the {goal}",
    ),
    "pick_place_same": (
        "pick up the {target} and place it elsewhere on the {goal}",
        "move the {target} to another spot on the {goal}",
        "lift the {target} and set it down {direction} on the {goal}",
        "pick up the {target} and put it down {direction}",
        "relocate the {target} {direction} on the {goal}",
        "take the {target} and place it a little {direction}",
    ),
    "pick_place_shelf": (
        "pick up the {target} and place it elsewhere on its shelf of the {goal}",
        "move the {target} along its shelf of the {goal}",
        "lift the {target} and set it down {direction} on the same shelf",
        "take the {target} from the {goal} and put it back {direction} on the same shelf",
        "relocate the {target} {direction} on its shelf",
    ),
    "stack": (
        "stack the {target} on the {goal}",
        "put the {target} on top of the {goal}",
        "place the {target} onto the {goal}",
        "pick up the {target} and stack it on the {goal}",
        "set the {target} down on top of the {goal}",
    ),
    "push": (
        "push the {target} {direction} on the {goal}",
        "slide the {target} {direction}",
        "push the {target} {direction} across the {goal}",
        "nudge the {target} {direction} without lifting it",
        "slide the {target} along the {goal} {direction}",
        "push the {target} a little {direction}",
    ),
    "open_drawer": (
        "open the {target}",
        "pull the {target} open",
        "pull out the {target}",
        "slide the {target} open",
        "open the {target} by pulling its handle",
    ),
    "open_door": (
        "open the {target}",
        "swing the {target} open",
        "pull the {target} open",
        "open the {target} by its handle",
        "pull open the {target}",
    ),
    "close_drawer": (
        "close the {target}",
        "push the {target} shut",
        "push the {target} closed",
        "slide the {target} back in",
        "close the {target} by pushing its handle",
    ),
    "close_door": (
        "close the {target}",
        "swing the {target} shut",
        "push the {target} closed",
        "shut the {target}",
        "close the {target} by its handle",
    ),
}

MATERIAL_WORDS = {  # physics record's material -> the adjective a person would say
    "ceramic": "ceramic", "glass": "glass", "wood": "wooden", "wood_panel": "wooden", "cardboard": "cardboard",
    "paper": "paper", "steel": "metal", "aluminium": "metal", "iron": "iron", "cast_iron": "cast-iron",
    "plastic": "plastic", "pet": "plastic", "rubber": "rubber", "stone": "stone", "granite": "granite",
    "marble": "marble", "wicker": "wicker", "fabric": "fabric", "leather": "leather", "cork": "cork",
    "brass": "brass", "copper": "copper", "foam": "foam"}
NEAR_M = 0.35  # a relative position is said only of a neighbour this close (centre to centre)
MAX_NAME_WORDS = 4
_PAREN = re.compile(r"\([^)]*\)")


def family(sim: SimScene, task: TaskSpec) -> str:
    """The template family of a task (see the module docstring)."""
    into = task.goal is not None and sim.is_container(task.goal.support_object_id)
    if task.type != "pick_place" or into:
        return task_family(task, sim.scene.by_id()[task.target_object_id], into)
    if _carrier(sim, sim.scene.by_id()[task.target_object_id]) is not None:
        return "pick_place_off"
    support = sim.support_of.get(task.target_object_id)
    if task.goal is not None and task.goal.support_object_id == support:
        return "pick_place_shelf" if support in sim.shelves else "pick_place_same"
    return "pick_place"


def _carrier(sim: SimScene, obj: SceneObject) -> SceneObject | None:
    """The free object (a tray, a board) the object stands on, or None."""
    by_id = sim.scene.by_id()
    oid = support_among(obj, [by_id[i] for i in sim.dynamic_ids if i != obj.id])
    return by_id[oid] if oid is not None else None


def name_words(obj: SceneObject) -> list[str]:
    words = list(raw_words(_PAREN.sub(" ", obj.name)))
    if not words or len(words) > MAX_NAME_WORDS:
        words = list(raw_words(obj.category)) or words[:MAX_NAME_WORDS]
    return words


def _colour(obj: SceneObject, words: list[str]) -> str | None:
    return colour_word(" ".join(words), obj.description)


def _in_base_frame(sim: SimScene, point_m) -> np.ndarray:
    rot = matrix_np(sim.base_quat_wxyz)
    return rot.T @ (np.asarray(point_m, dtype=float) - sim.base_pos_m)


def _relation(sim: SimScene, obj: SceneObject) -> str | None:
    """"left of the bowl" for the nearest other free object on the same support, or None."""
    by_id = sim.scene.by_id()
    support = sim.support_of.get(obj.id)
    mine = name_words(obj)
    best = None
    for oid in sim.dynamic_ids:
        other = by_id[oid]
        if oid == obj.id or sim.support_of.get(oid) != support or name_words(other) == mine:
            continue
        d = float(np.linalg.norm(np.subtract(other.position_m[:2], obj.position_m[:2])))
        if d <= NEAR_M and (best is None or d < best[0]):
            best = (d, other)
    if best is None:
        return None
    rel = _in_base_frame(sim, obj.position_m) - _in_base_frame(sim, best[1].position_m)
    if abs(rel[1]) >= abs(rel[0]):
        side = "left of" if rel[1] > 0 else "right of"
    else:
        side = "in front of" if rel[0] < 0 else "behind"
    return f"{side} the {' '.join(name_words(best[1]))}"


def refer(sim: SimScene, obj: SceneObject, rng: np.random.Generator) -> str:
    """A referring expression for a free object (see the module docstring), drawn from `rng`."""
    words = name_words(obj)
    name = " ".join(words)
    colour = _colour(obj, words)
    physics = sim.physics.get(obj.id)
    material = MATERIAL_WORDS.get(physics.material) if physics is not None else None
    relation = _relation(sim, obj)
    namesakes = [o for o in sim.scene.objects if o.id != obj.id and name_words(o) == words]
    forms: list[str] = []
    if not namesakes:
        forms.append(name)
        if colour and colour not in words:
            forms.append(f"{colour} {name}")
        if material and material not in words:
            forms.append(f"{material} {name}")
    elif colour and not any(_colour(o, name_words(o)) == colour for o in namesakes):
        forms.append(name if colour in words else f"{colour} {name}")
    if relation:
        forms.append(f"{name} {relation}")
    if not forms:  # namesakes and nothing tells them apart: the name is all the manifest gives
        forms.append(name)
    return forms[int(rng.integers(len(forms)))]


def _part(obj: SceneObject, noun: str) -> str:
    words = name_words(obj)
    if noun in words or f"{noun}s" in words:
        return " ".join(words)
    return f"{' '.join(words)} {noun}"


def _direction(sim: SimScene, task: TaskSpec, obj: SceneObject) -> str:
    rel = _in_base_frame(sim, task.goal.center_m) - _in_base_frame(sim, obj.position_m)
    if abs(rel[1]) >= abs(rel[0]):
        return "to the left" if rel[1] > 0 else "to the right"
    return "further back" if rel[0] > 0 else "closer"


def instruction(sim: SimScene, task: TaskSpec, episode_index: int, seed: int, slot: int | None = None,
                extra: Sequence[str] = ()) -> str:
    """The episode's instruction: a template of the task's family, filled and drawn from its
    stream. With `slot` (the episode's rank among its task's episodes) the template is the slot-th
    of the task's own shuffled order of its family's templates, so a task's first n episodes use n
    different ones; without, it is drawn from the episode's stream. `extra`: more templates of the
    family, after the built-in ones (an LLM's phrasings, sim/phrasings.py); none leaves every draw
    as it was."""
    rng = item_rng(sim.scene.header.scene_id, "instruction", task.task_id, int(episode_index), int(seed))
    by_id = sim.scene.by_id()
    fam = family(sim, task)
    templates = (*TEMPLATES[fam], *extra)
    if slot is None:
        template = templates[int(rng.integers(len(templates)))]
    else:
        order = item_rng(sim.scene.header.scene_id, "templates", task.task_id, int(seed)).permutation(len(templates))
        template = templates[int(order[slot % len(order)])]
    obj = by_id[task.target_object_id]
    if task.type == "open_close":
        return template.format(target=_part(obj, fam.split("_")[1]))
    goal = by_id.get(task.goal.support_object_id) if task.goal is not None else None
    carrier = _carrier(sim, obj) if fam == "pick_place_off" else None
    return template.format(target=refer(sim, obj, rng),
                           carrier=" ".join(name_words(carrier)) if carrier is not None else "",
                           goal=" ".join(name_words(goal)) if goal is not None else "floor",
                           direction=_direction(sim, task, obj) if task.goal is not None else "")
