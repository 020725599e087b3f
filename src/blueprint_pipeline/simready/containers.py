"""Which objects are containers (bowls, baskets, bins, trays, pots, ...): built as open-top hollow
shells in simulation (sim/containers.py) and never read as open furniture (scene/shelves.py).

Decided from the scene record and its physics record (`is_container`):
  - the `Container` or `Fillable` affordance, or
  - a category whose head word (whole-word matcher, simready/words.py) is one of bowl, basket,
    bin, tray, pot, pan, bucket, crate, tote; "box" only with the `Container` affordance (a closed
    cardboard box stays solid);
and, in every case, at least `MIN_HOLLOW_WIDTH_M` (12 cm) wide in its smallest horizontal
extent: cups, mugs and glasses (often `Fillable`) stay solid, which keeps them stable in the
gripper (a thin wall between the fingers gives few contacts) and nothing is put inside them.
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.simready.records import ColliderShape, ObjectPhysics
from blueprint_pipeline.simready.words import Matcher

MIN_HOLLOW_WIDTH_M = 0.12
CONTAINER_AFFORDANCES = ("Container", "Fillable")
_HEADS = ("bowl", "basket", "bin", "tray", "pot", "pan", "bucket", "crate", "tote")
_MATCHER: Matcher[str] = Matcher([(w, w) for w in (*_HEADS, "box")])


def is_container(obj: SceneObject, phys: ObjectPhysics | None) -> bool:
    """Whether the object is built hollow (rules in the module docstring)."""
    if phys is None or phys.collider not in (ColliderShape.CYLINDER, ColliderShape.BOX, ColliderShape.CONVEX_HULL):
        return False
    sx, sy, _ = (float(v) for v in phys.collider_size_m)
    if min(sx, sy) < MIN_HOLLOW_WIDTH_M:
        return False
    if any(obj.has_affordance(a) for a in CONTAINER_AFFORDANCES):
        return True  # includes a box with the Container affordance
    # "box" is a known head word so that e.g. "bin box" reads as a (solid) box, not a bin
    return _MATCHER.head(obj.category) in _HEADS


MAX_THICKNESS_M = 0.01
THICKNESS_FRACTION = 0.1
RING_SEGMENTS = 12  # a round container's wall: a regular polygon of this many thin boxes


def shell_thickness_m(size_m) -> float:
    """Wall and floor thickness of a container's shell (sim/containers.py) of outer extents `size_m`."""
    return min(MAX_THICKNESS_M, THICKNESS_FRACTION * min(float(v) for v in size_m))


def inside_size_m(phys: ObjectPhysics) -> tuple[float, float]:
    """The horizontal size of a container's inside, in its own frame: within the walls (a round
    one's inscribed polygon's inner apothem, both ways)."""
    size = [float(v) for v in phys.collider_size_m]
    t = shell_thickness_m(size)
    if phys.collider is ColliderShape.CYLINDER:
        d = min(size[0], size[1]) * float(np.cos(np.pi / RING_SEGMENTS)) - 2 * t
        return d, d
    return size[0] - 2 * t, size[1] - 2 * t
