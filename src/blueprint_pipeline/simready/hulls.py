"""Convex decomposition of a mesh with CoACD, cached by content.

CoACD (collision-aware approximate convex decomposition, maintained, MIT) splits a concave mesh
into at most `max_hulls` convex pieces whose union follows the surface: a mug keeps its cavity
and handle, a bowl its hollow. Its search is seeded (seed 0), so the same mesh always gives the
same pieces.

The result depends only on the triangles and the parameters, so it is cached on disk under
`cache_dir` (setting `BP_MESH_CACHE_DIR`) by the sha256 of both: a rerun, or another object with
the same asset, reads the pieces back instead of decomposing again (a few seconds per mesh ->
milliseconds). A damaged cache entry is recomputed. The cache holds the pieces in the mesh's
own frame before fitting, so objects of different sizes sharing an asset share an entry.

When CoACD fails on a mesh, the decomposition is the mesh's single convex hull, with a note.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile

import numpy as np

THRESHOLD = 0.05  # CoACD's concavity threshold (its default)
SEED = 0
DECOMPOSE_MAX_FACES = 5000  # meshes are decimated to this before decomposition (the result is a few hulls anyway)

log = logging.getLogger(__name__)


def content_key(prefix: str, vertices: np.ndarray, faces: np.ndarray) -> str:
    """sha256 of `prefix` (what was computed, with its parameters) and the triangles: the key of
    a result cached by the mesh's content (the decompositions here, simready/antipodal.py's pairs)."""
    h = hashlib.sha256(prefix.encode())
    h.update(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    return h.hexdigest()


def _key(vertices: np.ndarray, faces: np.ndarray, max_hulls: int) -> str:
    return content_key(f"coacd-{_coacd_version()}|{THRESHOLD}|{SEED}|{max_hulls}|", vertices, faces)


def _coacd_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("coacd")
    except PackageNotFoundError:
        return "absent"


def _load(path: str) -> list[np.ndarray] | None:
    try:
        with np.load(path) as z:
            counts = z["counts"]
            points = z["points"]
        if counts.sum() != len(points) or len(counts) == 0:
            return None
        return np.split(points.astype(np.float64), np.cumsum(counts)[:-1])
    except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
        return None


def _store(path: str, hulls: list[np.ndarray]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, counts=np.array([len(h) for h in hulls], dtype=np.int64),
                     points=np.concatenate(hulls).astype(np.float64))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache costs speed, not results
        log.warning("mesh cache not written (%s)", exc.strerror or type(exc).__name__)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _decompose(vertices: np.ndarray, faces: np.ndarray, max_hulls: int) -> tuple[list[np.ndarray], str]:
    import trimesh

    try:
        import coacd

        coacd.set_log_level("error")
        parts = coacd.run_coacd(coacd.Mesh(vertices, faces), threshold=THRESHOLD, max_convex_hull=max_hulls,
                                seed=SEED)
        hulls = [np.asarray(p[0], dtype=np.float64) for p in parts if len(p[0]) >= 4]
        if hulls:
            return hulls, ""
        reason = "no pieces"
    except Exception as exc:  # noqa: BLE001 - the single hull below stands in, with the reason
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
    hull = trimesh.Trimesh(vertices, faces, process=False).convex_hull
    return [np.asarray(hull.vertices, dtype=np.float64)], f"convex decomposition failed ({reason}); one convex hull"


def convex_pieces(vertices: np.ndarray, faces: np.ndarray, max_hulls: int,
                  cache_dir: str | None) -> tuple[list[np.ndarray], str, bool]:
    """(points of each convex piece, a note ("" when decomposed), whether it came from the cache)."""
    key = _key(vertices, faces, max_hulls)
    path = os.path.join(cache_dir, key[:2], f"{key}.npz") if cache_dir else None
    if path is not None and os.path.exists(path):
        cached = _load(path)
        if cached is not None:
            return cached, "", True
    hulls, note = _decompose(vertices, faces, max_hulls)
    if path is not None and not note:
        _store(path, hulls)
    return hulls, note, False
