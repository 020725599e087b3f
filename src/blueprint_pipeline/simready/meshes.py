"""Object meshes from the manifest's asset files: the collider's convex pieces, the visual, and
the mass properties of the real shape (issue: meshes from assets).

Which objects: free bodies (`sim_role` dynamic) whose `asset.path` names a GLB, glTF, OBJ, STL,
PLY or USD file under the asset root. Furniture, articulated parts and scene shells keep their
boxes (the sim stage models them from their boxes: open shelves, carcasses, hinged panels).

For each such object:
1. the file is read in the object's axes (simready/mesh_files.py);
2. it is fitted to the object's box: centred on it and scaled per axis to its extents (the
   manifest's box is authoritative, as for sizes everywhere). Checks, each a note on the
   record and a logged warning naming the object:
   - the scale against the file's units (glTF: metres; USD: its metersPerUnit; else the
     manifest's units): off by more than 2x is named ("about 1000x: millimetres?") and fitted;
   - the proportions: scales that differ by more than 1.25x between axes are noted (the
     mesh is stretched to the box); by more than 3x the mesh is not this object's shape
     (a wrong up axis, another object's file) and the primitive is kept;
3. the visual is decimated to `visual_triangles` (quadric decimation, fast-simplification); a
   base colour texture (mesh_files.py) is kept with it, each kept vertex's texture coordinates
   the mean of those collapsed into it (`_decimate_textured`);
4. the collider is its convex decomposition (simready/hulls.py, at most `max_hulls` pieces,
   cached by content);
5. an open-top hollow mesh gets its rim (simready/rims.py: a mug or a bowl taken by its rim);
6. mass properties are computed on the full-resolution fitted mesh: a closed (watertight)
   surface gives its volume, centre and inertia; every mesh gives its thin-shell ones (area,
   area-weighted centre and inertia). simready/derive.py chooses between them by the
   category's mass model.

Bad assets never stop a run: a missing or unreadable file, one without triangles, one above
256 MB, one whose proportions are not the object's, each leave the object's primitive in place
with a note naming the reason; a huge mesh is decimated (and noted).

Stored per object, content-addressed, in `simready/meshes/<sha256>.npz` (arrays: `vertices`,
`faces`, `rgba`, `hull_counts`, `hull_points`, and with a texture `uv` and `texture`, the
image's PNG bytes; object frame, metres), named by the physics record's `mesh` with that file's
sha256 (`load_object_mesh` checks it). The texture is drawn in the episodes' renders
(sim/scene_builder.py; the episodes' MJCF names it as a file next to the scene), and the usd and
Genie Sim stages write it next to the object files that sample it (UsdPreviewSurface).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import posixpath
import zipfile
from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.scene import asset_size
from blueprint_pipeline.scene.records import Scene, SceneObject
from blueprint_pipeline.simready.hulls import DECOMPOSE_MAX_FACES, convex_pieces
from blueprint_pipeline.simready.inertia import Part
from blueprint_pipeline.simready.mesh_files import MeshFileError, SourceMesh, load_source_mesh
from blueprint_pipeline.simready.records import MeshRecord
from blueprint_pipeline.simready.antipodal import antipodal_cached
from blueprint_pipeline.simready.rims import find_rim

MESHES_FOLDER = "meshes"  # under the simready folder
UNIT_TOLERANCE = 2.0  # fit scale vs the file's units beyond this factor: named in a note
STRETCH_NOTE = 1.25  # per-axis scales differing by more than this: noted
STRETCH_REFUSE = 3.0  # ... by more than this: not the object's shape, primitive kept
_UNIT_NAMES = ((1000.0, "millimetres"), (100.0, "centimetres"), (39.37, "inches"), (0.001, "kilometres"))

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeshSettings:
    max_hulls: int = 32
    visual_triangles: int = 10_000
    cache_dir: str | None = None  # None: decompositions are not cached


@dataclass
class ObjectMesh:
    """An object's fitted mesh, object frame, metres."""

    vertices: np.ndarray  # (N, 3) visual
    faces: np.ndarray  # (M, 3)
    rgba: tuple[float, float, float, float] | None
    hulls: list[np.ndarray]  # points of each convex piece of the collider
    uv: np.ndarray | None = None  # (N, 2) texture coordinates of the vertices (OpenGL: v up)
    texture_png: bytes | None = None  # the base colour image they sample (RGB PNG)

    @property
    def texture_name(self) -> str | None:
        """A name for the texture's file, from its bytes (objects sharing an image share it)."""
        return None if self.texture_png is None else f"mesh_{hashlib.sha256(self.texture_png).hexdigest()[:16]}.png"

    def to_bytes(self) -> bytes:
        """A deterministic .npz (fixed zip timestamps), so equal meshes have equal files. A
        textured mesh adds `uv` and `texture` (the PNG's bytes)."""
        arrays = {
            "vertices": self.vertices.astype(np.float32), "faces": self.faces.astype(np.int32),
            "rgba": np.asarray(self.rgba if self.rgba is not None else (np.nan,) * 4, dtype=np.float32),
            "hull_counts": np.array([len(h) for h in self.hulls], dtype=np.int32),
            "hull_points": np.concatenate(self.hulls).astype(np.float32),
        }
        if self.uv is not None and self.texture_png is not None:
            arrays["uv"] = self.uv.astype(np.float32)
            arrays["texture"] = np.frombuffer(self.texture_png, dtype=np.uint8)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, arr in arrays.items():
                member = io.BytesIO()
                np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
                z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue(),
                           compress_type=zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ObjectMesh:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            rgba = z["rgba"].astype(float)
            counts = z["hull_counts"]
            hulls = np.split(z["hull_points"].astype(np.float64), np.cumsum(counts)[:-1])
            textured = "uv" in z.files and "texture" in z.files
            return cls(z["vertices"].astype(np.float64), z["faces"].astype(np.int64),
                       None if np.isnan(rgba).any() else tuple(float(v) for v in rgba), hulls,  # type: ignore[arg-type]
                       z["uv"].astype(np.float64) if textured else None,
                       z["texture"].tobytes() if textured else None)


@dataclass
class MeshProps:
    """What simready/derive.py needs of an object's mesh."""

    record: MeshRecord
    solid: Part | None  # unit density (mass = volume in m^3); None: not a closed surface
    surface: Part  # unit areal density (mass = area in m^2)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Source:
    mesh: SourceMesh
    centre: np.ndarray
    size: np.ndarray
    visual_faces: np.ndarray  # decimated
    visual_vertices: np.ndarray
    visual_uv: np.ndarray | None  # per visual vertex, with the file's texture
    hulls: list[np.ndarray]  # centred, the file's units
    notes: list[str]
    cached: bool


def _decimate(vertices: np.ndarray, faces: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    if len(faces) <= budget:
        return vertices, faces
    import trimesh

    small = trimesh.Trimesh(vertices, faces, process=False).simplify_quadric_decimation(face_count=budget)
    return np.asarray(small.vertices, dtype=np.float64), np.asarray(small.faces, dtype=np.int64)


def _welded(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices at the same position merged (a textured file splits them along its texture's
    seams, and CoACD decomposed such a box into a hull 1 mm larger on each side), the others in
    their order: a mesh without repeated positions is returned as it is."""
    _, first, inverse = np.unique(vertices, axis=0, return_index=True, return_inverse=True)
    if len(first) == len(vertices):
        return vertices, faces
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return vertices[first[order]], rank[inverse.reshape(-1)][faces]


def _decimate_textured(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray,
                       budget: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_decimate` (the same triangles) carrying the texture coordinates: each kept vertex
    takes the mean of those of the vertices collapsed into it (fast-simplification's replay of
    the collapses maps every vertex to the one it became; trimesh drops texture coordinates).
    A glTF file splits vertices along texture seams, and the decimation keeps such borders."""
    if len(faces) <= budget:
        return vertices, faces, uv
    import fast_simplification

    points, tris, collapses = fast_simplification.simplify(points=vertices, triangles=faces, target_count=budget,
                                                           return_collapses=True)
    _, replayed, mapping = fast_simplification.replay_simplification(points=vertices, triangles=faces,
                                                                     collapses=collapses)
    if not np.array_equal(replayed, tris):  # the replay must index the vertices as the decimation did
        raise MeshFileError("texture coordinates could not follow the decimation")
    total, count = np.zeros((len(points), 2)), np.zeros(len(points))
    np.add.at(total, mapping, uv)
    np.add.at(count, mapping, 1.0)
    return np.asarray(points, dtype=np.float64), np.asarray(tris, dtype=np.int64), total / np.maximum(count, 1.0)[:, None]


def _prepare_source(src: SourceMesh, settings: MeshSettings) -> _Source:
    lo, hi = src.vertices.min(axis=0), src.vertices.max(axis=0)
    centre, size = (lo + hi) / 2, hi - lo
    if (size <= 1e-9).any():
        raise MeshFileError(f"flat bounding box {tuple(round(float(v), 6) for v in size)}")
    centred = src.vertices - centre
    notes = list(src.notes)
    if len(src.faces) > settings.visual_triangles:
        notes.append(f"{len(src.faces):,} triangles decimated to {settings.visual_triangles:,} for the visual")
    vuv = None
    if src.texture is not None:
        try:
            vv, vf, vuv = _decimate_textured(centred, src.faces, src.texture.uv, settings.visual_triangles)
        except MeshFileError as exc:
            notes.append(f"texture left out: {exc}")
            vv, vf = _decimate(centred, src.faces, settings.visual_triangles)
    else:
        vv, vf = _decimate(centred, src.faces, settings.visual_triangles)
    hv, hf = _decimate(*_welded(centred, src.faces), DECOMPOSE_MAX_FACES)
    unit = float(size.max())  # decomposed at unit size: the same shape in mm or m shares a cache entry
    hulls, note, cached = convex_pieces(np.round(hv / unit, 6), hf, settings.max_hulls, settings.cache_dir)
    hulls = [h * unit for h in hulls]
    if note:
        notes.append(note)
    return _Source(src, centre, size, vf, vv, vuv, hulls, notes, cached)


def _unit_note(k: float) -> str:
    guess = next((f" ({name}?)" for factor, name in _UNIT_NAMES if 0.8 < k / factor < 1.25), "")
    return f"the mesh is about {k:.3g}x the manifest's box in its units{guess}; scaled to fit the box"


def _mass_parts(vertices: np.ndarray, faces: np.ndarray) -> tuple[Part | None, Part, bool]:
    """(solid part at unit density or None, thin-shell part at unit areal density, watertight)."""
    import trimesh

    tm = trimesh.Trimesh(vertices, faces, process=True)
    tris = tm.triangles
    areas = tm.area_faces
    centres = tris.mean(axis=1)
    area = float(areas.sum())
    com = (areas[:, None] * centres).sum(axis=0) / area
    r = centres - com
    shell_inertia = tuple(float(v) for v in (
        (areas * (r[:, 1] ** 2 + r[:, 2] ** 2)).sum(), (areas * (r[:, 0] ** 2 + r[:, 2] ** 2)).sum(),
        (areas * (r[:, 0] ** 2 + r[:, 1] ** 2)).sum()))
    surface = Part(area, tuple(float(v) for v in com), shell_inertia)  # type: ignore[arg-type]
    watertight = bool(tm.is_watertight)
    if not watertight:
        return None, surface, False
    if tm.volume < 0:
        tm.invert()
    props = tm.mass_properties  # density 1
    volume = float(props["volume"])
    if not volume > 0:
        return None, surface, False
    inertia = np.asarray(props["inertia"], dtype=float)
    solid = Part(volume, tuple(float(v) for v in props["center_mass"]),  # type: ignore[arg-type]
                 tuple(float(v) for v in np.diag(inertia)))
    return solid, surface, True


def wants_mesh(obj: SceneObject) -> bool:
    """A free body naming a mesh file (the module docstring says why only those)."""
    return (obj.sim_role.is_dynamic and obj.asset is not None and bool(obj.asset.path)
            and asset_size.asset_format(obj.asset.path, obj.asset.format) in asset_size.SIZED_FORMATS)


def _fit(obj: SceneObject, source: _Source, expected_mpu: float) -> tuple[np.ndarray, list[str]]:
    scale = np.asarray(obj.extents_m, dtype=float) / source.size
    stretch = float(scale.max() / scale.min())
    dims = "x".join(f"{v:.3g}" for v in source.size)
    if stretch > STRETCH_REFUSE:
        raise MeshFileError(f"its proportions ({dims} in its units) are not the object's box "
                            f"{'x'.join(f'{v:.3g}' for v in obj.extents_m)} m (a wrong up axis or another object's file?)")
    notes = []
    if stretch > STRETCH_NOTE:
        notes.append(f"the mesh ({dims}) is stretched up to {stretch:.2f}x along one axis to fit the box")
    k = float(np.exp(np.log(scale).mean())) / expected_mpu
    if not 1 / UNIT_TOLERANCE <= k <= UNIT_TOLERANCE:
        notes.append(_unit_note(1 / k))
    return scale, notes


def prepare_meshes(scene: Scene, asset_root: str | None, simready_url: str, settings: MeshSettings,
                   progress: Callable[[int, int | None, str], None] | None = None) -> tuple[dict[str, MeshProps], dict[str, list[str]], dict[str, int]]:
    """Meshes of every object that wants one (module docstring), written under `simready_url`.

    Returns (mesh properties by object id, fallback notes by object id, summary counts)."""
    props: dict[str, MeshProps] = {}
    fallbacks: dict[str, list[str]] = {}
    sources: dict[str, _Source | MeshFileError] = {}
    written: set[str] = set()
    summary = {"meshes": 0, "mesh_fallbacks": 0, "mesh_files_read": 0, "mesh_decompositions_cached": 0}
    wanted = [o for o in scene.objects if wants_mesh(o)]
    y_up = scene.header.source_frame == "y_up"
    for done, obj in enumerate(wanted):
        if progress is not None:
            progress(done, len(wanted), "meshes")
        assert obj.asset is not None
        path = obj.asset.path
        fmt = asset_size.asset_format(path, obj.asset.format)
        try:
            if asset_root is None:
                raise MeshFileError("no asset root to resolve the path against")
            url = asset_size.resolve(asset_root, path)
            if url not in sources:
                try:
                    if not asset_size.exists(url):
                        raise MeshFileError("not found")
                    sources[url] = _prepare_source(load_source_mesh(url, fmt, y_up), settings)
                    summary["mesh_files_read"] += 1
                    summary["mesh_decompositions_cached"] += int(sources[url].cached)  # type: ignore[union-attr]
                except MeshFileError as exc:
                    sources[url] = exc
            source = sources[url]
            if isinstance(source, MeshFileError):
                raise source
            expected = source.mesh.meters_per_unit or scene.header.source_meters_per_unit
            scale, notes = _fit(obj, source, expected)
            texture = source.mesh.texture
            mesh = ObjectMesh(source.visual_vertices * scale, source.visual_faces, source.mesh.rgba,
                              [h * scale for h in source.hulls], source.visual_uv,
                              texture.png if texture is not None and source.visual_uv is not None else None)
            solid, surface, watertight = _mass_parts((source.mesh.vertices - source.centre) * scale, source.mesh.faces)
            data = mesh.to_bytes()
            sha = hashlib.sha256(data).hexdigest()
            rel = posixpath.join(MESHES_FOLDER, f"{sha}.npz")
            if sha not in written:
                storage.atomic_write_bytes(storage.join(simready_url, rel), data)
                written.add(sha)
            record = MeshRecord(asset=path, asset_sha256=source.mesh.sha256, file=rel, sha256=sha,
                                scale=tuple(float(v) for v in scale), triangles=len(mesh.faces),  # type: ignore[arg-type]
                                hulls=len(mesh.hulls), watertight=watertight, rim=find_rim(mesh.vertices, mesh.faces),
                                textured=mesh.texture_png is not None,
                                antipodal=antipodal_cached(mesh.vertices, mesh.faces, settings.cache_dir))
            props[obj.id] = MeshProps(record, solid, surface, [*source.notes, *notes])
            for note in notes:
                log.warning("object %s: asset %s: %s", obj.id, path, note)
            summary["meshes"] += 1
        except (MeshFileError, ValueError) as exc:
            fallbacks[obj.id] = [f"asset {path}: {exc}; the primitive is used"]
            summary["mesh_fallbacks"] += 1
    if fallbacks:  # one line, not one per object (a scene may name thousands of absent files)
        first = next(iter(fallbacks))
        log.warning("%d of %d objects with mesh assets keep their primitive (first: %s: %s); each "
                    "object's reason is in simready/physics.json's notes", len(fallbacks), len(wanted),
                    first, fallbacks[first][0])
    return props, fallbacks, summary


def load_object_mesh(simready_url: str, record: MeshRecord) -> ObjectMesh:
    """The stored mesh named by a physics record, checked against the record's sha256."""
    url = storage.safe_join(simready_url, record.file)
    if not storage.exists(url):
        raise InvalidInputError(f"{record.file}: mesh file missing from the simready outputs (rerun stage simready)")
    data = storage.read_bytes(url)
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise InvalidInputError(f"{record.file}: mesh file does not match physics.json's sha256 (rerun stage simready)")
    return ObjectMesh.from_bytes(data)


def load_meshes(simready_url: str, physics) -> dict[str, ObjectMesh]:
    """Every stored mesh the physics file names, by object id (a file shared by objects is read once)."""
    by_file: dict[str, ObjectMesh] = {}
    out = {}
    for oid, p in physics.objects.items():
        if p.mesh is not None:
            if p.mesh.file not in by_file:
                by_file[p.mesh.file] = load_object_mesh(simready_url, p.mesh)
            out[oid] = by_file[p.mesh.file]
    return out


@functools.lru_cache(maxsize=4096)
def _file_sha(url: str, stat: tuple) -> str:  # `stat` keys the cache: an edited file is hashed again
    return storage.sha256_file(url)


def assets_digest(scene: Scene, asset_root: str | None) -> tuple[str, int]:
    """(sha256 over every asset file the scene's objects name in a mesh format, how many files)
    for the fingerprints of the stages that read them (runner, `ASSETS_INPUT`): editing, adding or
    removing an asset file reruns them. A path that is missing or refused counts as that."""
    entries = set()
    for obj in scene.objects:
        if obj.asset is None or not obj.asset.path:
            continue
        if asset_size.asset_format(obj.asset.path, obj.asset.format) not in asset_size.SIZED_FORMATS:
            continue
        try:
            url = asset_size.resolve(asset_root, obj.asset.path) if asset_root is not None else None
        except ValueError:
            url = None
        if url is None:
            entries.add((obj.asset.path, "refused"))
        elif not asset_size.exists(url):
            entries.add((obj.asset.path, "missing"))
        else:
            stat = storage.stat_key(url)  # None on object stores: hashed every time
            sha = _file_sha(url, tuple(stat)) if stat is not None else storage.sha256_file(url)
            entries.add((obj.asset.path, sha))
    h = hashlib.sha256()
    for path, sha in sorted(entries):
        h.update(f"{path}\0{sha}\n".encode())
    return h.hexdigest(), sum(1 for _, sha in entries if sha not in ("missing", "refused"))
