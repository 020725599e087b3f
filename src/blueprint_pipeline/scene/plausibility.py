"""Plausibility of the layout: warnings (never errors) naming objects a simulation would move at once.

Checked on the normalised boxes (z-up, metres), with TOLERANCE_M = 1 cm:
- floating: a free body (manipulable_object, clutter, interactive) whose bottom is more than 1 cm
  above its support, or above the floor when nothing is under it. It falls at the first step.
  Fixed objects are not checked: a wall cabinet or a lamp may hang in the air.
- sunk into its support: a free body whose bottom is more than 1 cm below the top of its support.
- sunk into the floor: any object whose bottom is more than 1 cm below the floor.
- overlapping: two objects whose (oriented) boxes overlap by more than 1 cm, where neither is a
  container; an object and its support are reported as "sunk" instead, once.

Support: of the objects whose world footprint covers at least half of the object's footprint and
whose top is below the object's centre, the one with the highest top. The floor is the top of a
thin object named or classed "floor" (as the simulation's floor), else z = 0.

Containers may hold other objects, so they are never part of an overlap, and an object resting
inside one (its centre inside the container's box, or its bottom within the container's box when
the container is its support) is not judged: the box model does not know a cabinet's shelves.
A container here is an object with the Container, Fillable or Openable affordance, an articulated
sim_role or a joint, or a category (or semantic class) whose head word names something that holds
things (`CONTAINER_WORDS`: bowl, basket, shelf, cabinet, drawer, fridge, ...).
Room shells and background objects (and the floor object) are not checked.

Boxes are world axis-aligned boxes for supports and footprints (a rotated table's box is larger
than the table), and oriented boxes (separating-axis test) for overlaps, so two rotated objects
side by side are not reported.

Cost: each object adds 13 numbers, its flags and its id to flat arrays while the manifest streams
(about 95 bytes); the checks run once at the end in numpy, on the pairs of touching footprints
found by the uniform grid of `geniesim/spatial_index.py` (never all pairs), slab by slab along x.
Measured on a 2-core machine: about 0.03 s for a 10,000-object synthetic scene. So that the scene
stage's memory stays bounded however large the manifest (the streaming ingest's promise), a scene
of more than MAX_OBJECTS (50,000) objects is not checked: the arrays are let go when the count
passes it, and one warning says so.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

from blueprint_pipeline.simready.words import PREPOSITIONS, raw_words, singular

if TYPE_CHECKING:  # numpy is imported where the checks run, not in every ingest worker
    import numpy as np

TOLERANCE_M = 0.01
MAX_OBJECTS = 50_000
SUPPORT_FOOTPRINT_FRACTION = 0.5
FLOOR_MAX_THICKNESS_M = 0.3  # as the simulation's floor (geniesim/placement.floor_height_m)

# flags of one object
FREE = 1
CONTAINER = 2
SKIPPED = 4  # room shell or background: not checked
FLOOR = 8  # the floor object: gives the floor height, not checked

CONTAINER_WORDS = frozenset({
    "bowl", "basket", "bin", "tray", "pot", "pan", "bucket", "crate", "tote", "container", "sink",
    "shelf", "shelving", "bookshelf", "bookcase", "rack", "cabinet", "cupboard", "drawer", "dresser",
    "wardrobe", "closet", "locker", "sideboard", "cart", "trolley", "refrigerator", "fridge",
    "freezer", "microwave", "oven", "dishwasher", "washer", "dryer", "bag", "chest", "hamper",
})
CONTAINER_AFFORDANCES = frozenset({"Container", "Fillable", "Openable"})
_FLOOR_WORDS = frozenset({"floor", "flooring"})
# Trailing words that name no kind of thing: "shelving unit" is shelving, "storage system" storage.
_GENERIC_TAILS = frozenset({"unit", "units", "system", "systems", "module", "modules", "assembly", "set"})

Warn = Callable[[str, str, str | None], None]  # (path pattern, message, object names)


def head_word(text: str) -> str | None:
    """The head noun of a label: its last word before any "of/with/for", generic tails such as
    "unit" passed over ("bowl of fruit" -> bowl, "kitchen cabinet" -> cabinet, "shelving unit" ->
    shelving, "storage bins" -> bin)."""
    words = raw_words(text)
    for i, w in enumerate(words):
        if i and w in PREPOSITIONS:
            words = words[:i]
            break
    while len(words) > 1 and words[-1] in _GENERIC_TAILS:
        words = words[:-1]
    return singular(words[-1], CONTAINER_WORDS) if words else None


@functools.lru_cache(maxsize=4096)
def _container_label(text: str) -> bool:
    return head_word(text) in CONTAINER_WORDS


def is_container(category: str, semantic_class: str | None, affordances: list[str], articulated: bool) -> bool:
    if articulated or CONTAINER_AFFORDANCES.intersection(affordances):
        return True
    return any(_container_label(t) for t in (category, semantic_class or "") if t)


def _names_floor(text: str) -> bool:
    # the substring test first: most labels (and every id-like name) say nothing of floors
    return "floor" in text.lower() and bool(_FLOOR_WORDS.intersection(singular(w, _FLOOR_WORDS) for w in raw_words(text)))


def names_floor(*texts: str) -> bool:
    return any(_names_floor(t) for t in texts if t)


def object_flags(record: dict, free: bool, skipped: bool, articulated: bool) -> int:
    """Flags of one normalised record (the JSON form of SceneObject)."""
    flags = (FREE if free else 0) | (SKIPPED if skipped else 0)
    lo, hi = record["aabb_min_m"], record["aabb_max_m"]
    if names_floor(record["category"], record["semantic_class"] or "", record["name"]) \
            and hi[2] - lo[2] < FLOOR_MAX_THICKNESS_M:
        flags |= FLOOR
    if is_container(record["category"], record["semantic_class"], [a["type"] for a in record["affordances"]],
                    articulated):
        flags |= CONTAINER
    return flags


BoxFacts = tuple[tuple[float, ...], int]  # (lo xyz, hi xyz, quaternion wxyz, extents xyz), flags


def box_facts(record: dict, flags: int) -> BoxFacts:
    return (*record["aabb_min_m"], *record["aabb_max_m"], *record["orientation_wxyz"], *record["extents_m"]), flags


class Layout:
    """The boxes of a scene, gathered one object at a time, then checked at once (`check`)."""

    WIDTH = 13  # numbers per object: lo 3, hi 3, quaternion 4, extents 3

    def __init__(self, max_objects: int | None = None) -> None:
        self.max_objects = MAX_OBJECTS if max_objects is None else max_objects
        self.floor_z: float | None = None
        self.too_many = False
        self._reset()

    def _reset(self) -> None:
        # Compact: boxes as float64 (positions need it), orientation and extents as float32, ids
        # as one UTF-8 byte string with end offsets (about 95 bytes per object in all).
        self._boxes = array("d")
        self._shapes = array("f")
        self._flags = bytearray()
        self._id_bytes = bytearray()
        self._id_ends = array("Q")

    def __len__(self) -> int:
        return len(self._id_ends)

    def object_id(self, i: int) -> str:
        start = self._id_ends[i - 1] if i else 0
        return self._id_bytes[start:self._id_ends[i]].decode()

    def add(self, oid: str, facts: BoxFacts) -> None:
        values, flags = facts
        assert len(values) == self.WIDTH
        if self.too_many:
            return
        if len(self) >= self.max_objects:  # let go of what was gathered: memory stays bounded
            self.too_many = True
            self._reset()
            return
        self._id_bytes += oid.encode()
        self._id_ends.append(len(self._id_bytes))
        self._boxes.extend(values[:6])
        self._shapes.extend(values[6:])
        self._flags.append(flags)
        if flags & FLOOR and self.floor_z is None:  # the first floor object, as the simulation does
            self.floor_z = values[5]

    def check(self, warn: Warn) -> None:
        if self.too_many:
            warn("objects", f"layout plausibility not checked (more than {self.max_objects:,} objects)", None)
            return
        n = len(self)
        if n == 0:
            return
        import numpy as np

        box = np.frombuffer(self._boxes, dtype=np.float64).reshape(n, 6)
        shape = np.frombuffer(self._shapes, dtype=np.float32).reshape(n, 7).astype(np.float64)
        flags = np.frombuffer(bytes(self._flags), dtype=np.uint8)
        lo, hi, quat, ext = box[:, 0:3], box[:, 3:6], shape[:, 0:4], shape[:, 4:7]
        floor_z = self.floor_z if self.floor_z is not None else 0.0
        checked = (flags & (SKIPPED | FLOOR)) == 0
        ids = _Ids(self)

        for i in np.flatnonzero(checked & (lo[:, 2] < floor_z - TOLERANCE_M)):
            warn("objects[*]", f"sunk more than {TOLERANCE_M * 100:g} cm into the floor",
                 f"{ids[i]!r} by {_cm(floor_z - lo[i, 2])}")

        pairs = touching_pairs(lo, hi, np.flatnonzero(checked))
        container = (flags & CONTAINER) != 0
        free = (flags & FREE) != 0
        centre = (lo + hi) / 2

        # both directions: (object, other)
        a = np.concatenate([pairs[:, 0], pairs[:, 1]])
        b = np.concatenate([pairs[:, 1], pairs[:, 0]])
        ox = np.minimum(hi[a, 0], hi[b, 0]) - np.maximum(lo[a, 0], lo[b, 0])
        oy = np.minimum(hi[a, 1], hi[b, 1]) - np.maximum(lo[a, 1], lo[b, 1])
        shared = np.maximum(ox, 0) * np.maximum(oy, 0)
        area = (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])

        # inside a container: the object's centre inside the container's box (1 cm slack)
        holds = container[b] & np.all((centre[a] >= lo[b] - TOLERANCE_M) & (centre[a] <= hi[b] + TOLERANCE_M), axis=1)
        inside = np.zeros(n, dtype=bool)
        inside[a[holds]] = True

        # supports of free objects
        sel = free[a] & ~inside[a] & (shared >= SUPPORT_FOOTPRINT_FRACTION * area[a]) & (hi[b, 2] <= centre[a, 2])
        sa, sb = a[sel], b[sel]
        support = np.full(n, -1, dtype=np.int64)
        if sa.size:
            order = np.lexsort((hi[sb, 2], sa))  # by object, then support top ascending: last wins
            sa, sb = sa[order], sb[order]
            last = np.r_[sa[1:] != sa[:-1], True]
            support[sa[last]] = sb[last]
        for i in np.flatnonzero(free & ~inside):
            s = support[i]
            if s < 0:
                gap = lo[i, 2] - floor_z
                if gap > TOLERANCE_M:
                    warn("objects[*]", f"free object more than {TOLERANCE_M * 100:g} cm above what is under it "
                         "(it falls at the first step)", f"{ids[i]!r} {_cm(gap)} above the floor")
                continue
            gap = lo[i, 2] - hi[s, 2]
            if gap > TOLERANCE_M:
                warn("objects[*]", f"free object more than {TOLERANCE_M * 100:g} cm above what is under it "
                     "(it falls at the first step)", f"{ids[i]!r} {_cm(gap)} above {ids[s]!r}")
            elif gap < -TOLERANCE_M and not (container[s] and lo[i, 2] >= lo[s, 2] - TOLERANCE_M):
                # (below a container's rim but not below its bottom: resting in it, a fruit in a bowl)
                warn("objects[*]", f"sunk more than {TOLERANCE_M * 100:g} cm into its support",
                     f"{ids[i]!r} {_cm(-gap)} into {ids[s]!r}")

        # overlaps between non-containers (an object and its support are reported above)
        if pairs.size:
            i, j = pairs[:, 0], pairs[:, 1]
            deep = np.all(np.minimum(hi[i], hi[j]) - np.maximum(lo[i], lo[j]) > TOLERANCE_M, axis=1)
            keep = deep & ~container[i] & ~container[j] & (support[i] != j) & (support[j] != i)
            i, j = i[keep], j[keep]
            if i.size:
                depth = obb_penetration(centre[i], quat[i], ext[i], centre[j], quat[j], ext[j])
                for k in np.flatnonzero(depth > TOLERANCE_M):
                    warn("objects[*]", f"boxes overlap by more than {TOLERANCE_M * 100:g} cm (neither is a container)",
                         f"{ids[i[k]]!r} and {ids[j[k]]!r} by {_cm(depth[k])}")


SLAB_OBJECTS = 4096


def touching_pairs(lo: np.ndarray, hi: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of `idx` whose world footprints touch or overlap, shape (m, 2).

    The grid of `geniesim/spatial_index.py` per slab of about SLAB_OBJECTS objects along x, so the
    memory of one call stays bounded whatever the scene's size (its large boxes are paired with
    every box of their slab). An object spanning several slabs is in each; a pair is kept only
    in the slab where the overlap of the two x-ranges begins, so it is found once."""
    import numpy as np

    from blueprint_pipeline.geniesim.spatial_index import candidate_pairs

    empty = np.empty((0, 2), dtype=np.int64)
    if idx.size < 2:
        return empty
    if idx.size <= SLAB_OBJECTS:
        return idx[candidate_pairs(lo[idx], hi[idx], 0.0)]
    starts = np.sort(lo[idx, 0])
    edges = starts[SLAB_OBJECTS::SLAB_OBJECTS]  # slab k covers [edges[k-1], edges[k])
    first = np.searchsorted(edges, lo[idx, 0], side="right")
    last = np.searchsorted(edges, hi[idx, 0], side="right")
    out = [empty]
    for k in range(len(edges) + 1):
        members = idx[(first <= k) & (last >= k)]
        if members.size < 2:
            continue
        p = members[candidate_pairs(lo[members], hi[members], 0.0)]
        begin = np.maximum(lo[p[:, 0], 0], lo[p[:, 1], 0])
        out.append(p[np.searchsorted(edges, begin, side="right") == k])
    return np.concatenate(out)


class _Ids:
    """ids[i] -> the id of object i (decoded on demand: only named objects are)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def __getitem__(self, i: int) -> str:
        return self.layout.object_id(int(i))


def _cm(metres: float) -> str:
    return f"{metres * 100:.1f} cm"


def _rotations(q: np.ndarray) -> np.ndarray:
    """(m, 4) unit quaternions w-x-y-z -> (m, 3, 3) rotation matrices (columns: the box's axes)."""
    import numpy as np

    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1),
    ], axis=1)


def obb_penetration(ca: np.ndarray, qa: np.ndarray, ea: np.ndarray,
                    cb: np.ndarray, qb: np.ndarray, eb: np.ndarray) -> np.ndarray:
    """How deep each pair of oriented boxes overlaps: the smallest overlap of their projections on
    the 15 separating-axis candidates (each box's 3 axes and the 9 cross products); <= 0 means
    apart. Centres (m, 3), quaternions (m, 4), full extents (m, 3)."""
    import numpy as np

    ra, rb = _rotations(qa), _rotations(qb)  # (m, 3, 3); column k is axis k
    axes_a = np.swapaxes(ra, 1, 2)  # (m, 3, 3): row k is axis k
    axes_b = np.swapaxes(rb, 1, 2)
    cross = np.cross(axes_a[:, :, None, :], axes_b[:, None, :, :]).reshape(-1, 9, 3)
    norm = np.linalg.norm(cross, axis=2, keepdims=True)
    usable = norm[..., 0] > 1e-6  # parallel axes give no new candidate
    cross = np.where(norm > 1e-6, cross / np.maximum(norm, 1e-12), 0.0)
    axes = np.concatenate([axes_a, axes_b, cross], axis=1)  # (m, 15, 3)
    valid = np.concatenate([np.ones((len(ca), 6), dtype=bool), usable], axis=1)
    half_a, half_b = ea / 2, eb / 2
    proj_a = np.abs(np.einsum("mkd,mjd->mkj", axes, axes_a)) @ half_a[:, :, None]
    proj_b = np.abs(np.einsum("mkd,mjd->mkj", axes, axes_b)) @ half_b[:, :, None]
    dist = np.abs(np.einsum("mkd,md->mk", axes, cb - ca))
    overlap = proj_a[..., 0] + proj_b[..., 0] - dist
    return np.where(valid, overlap, np.inf).min(axis=1)
