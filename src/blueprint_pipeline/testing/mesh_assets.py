"""Procedural object meshes (mug, bowl, bottle, box, drawer) and the "meshed kitchen" example.

Why: the example manifests name asset files that are not in the repository, so nothing exercised
real meshes. This module builds a few small, watertight meshes from constructive solid geometry
(manifold3d booleans and lathes, so every result is a closed 2-manifold by construction), writes
them as binary glTF (trimesh, export only) and writes a manifest, in the format of
`examples/kitchen.json`, whose objects use them: `examples/meshed_kitchen/` is its output.

    python -m blueprint_pipeline.testing.mesh_assets OUT_FOLDER   # writes OUT_FOLDER/meshed_kitchen.json

Conventions of the files:
- metres, y up (glTF 2.0): heights run along +y. The solids are modelled z-up (manifold3d's
  cylinders run along z) and turned by (x, y, z) -> (x, z, -y) on export, the inverse of the
  pipeline's y-up to z-up turn, so the model's +x stays +x and its -y (the side facing the room)
  becomes the file's +z;
- each mesh's bounding box is centred on the origin, matching `transform.position` (the box centre);
- the mug's handle points along +x; the drawer's front panel and handle face +z in the file (-y once
  the pipeline reads it z-up, the side towards which a drawer of `examples/kitchen.json` opens);
- one PBR material per mesh (base colour, metallic, roughness); the box also has a base colour
  texture (`carton_texture`: a printed carton, box-projected onto each face, `_box_uv`), so the
  pipeline's texture path is exercised end to end.

Output is deterministic: the same inputs give the same bytes (the tests compare the committed
example with a fresh one), for a given trimesh and manifold3d version.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import trimesh
from manifold3d import CrossSection, Manifold
from trimesh.visual import TextureVisuals
from trimesh.visual.material import PBRMaterial

SEGMENTS = 48  # around round parts
HANDLE_SEGMENTS = 24  # around the drawer handle's thin bars
EPS = 1e-4  # overlap of cutting tools beyond the faces they open, m

# name -> (base colour RGBA 0-255, metallic, roughness, alpha mode)
LOOKS: dict[str, tuple[tuple[int, int, int, int], float, float, str]] = {
    "mug": ((242, 240, 235, 255), 0.0, 0.25, "OPAQUE"),  # white glazed ceramic
    "bowl": ((238, 226, 196, 255), 0.0, 0.35, "OPAQUE"),  # cream ceramic
    "bottle": ((46, 120, 64, 200), 0.0, 0.05, "BLEND"),  # green glass
    "box": ((160, 112, 68, 255), 0.0, 0.9, "OPAQUE"),  # brown cardboard
    "drawer": ((214, 181, 135, 255), 0.0, 0.6, "OPAQUE"),  # light wood
}


# --- solids (modelled z-up, metres) ---------------------------------------------------------------

def _lathe(profile: list[tuple[float, float]]) -> Manifold:
    """A solid of revolution about z from a closed (radius, height) profile, counter-clockwise."""
    return Manifold.revolve(CrossSection([profile]), circular_segments=SEGMENTS)


def _ring_x_z(centre: tuple[float, float, float], r_outer: float, r_inner: float, thickness: float) -> Manifold:
    """A flat ring (washer) standing in the x-z plane: a cylinder less a narrower one, axis along y."""
    outer = Manifold.cylinder(thickness, r_outer, circular_segments=SEGMENTS, center=True)
    inner = Manifold.cylinder(thickness + 2 * EPS, r_inner, circular_segments=SEGMENTS, center=True)
    return (outer - inner).rotate((90.0, 0.0, 0.0)).translate(centre)


def mug_solid(diameter: float = 0.075, height: float = 0.095, wall: float = 0.004, bottom: float = 0.006,
              handle_reach: float = 0.033, handle_width: float = 0.009, handle_thickness: float = 0.010) -> Manifold:
    """A cylindrical cup open at the top, and a C handle on +x: the outer half of a ring centred on the
    body's surface, cut off inside the wall so it joins the body without entering the cavity."""
    r = diameter / 2
    body = Manifold.cylinder(height, r, circular_segments=SEGMENTS)
    cavity = Manifold.cylinder(height - bottom + EPS, r - wall, circular_segments=SEGMENTS).translate((0, 0, bottom))
    ring = _ring_x_z((r, 0.0, 0.53 * height), handle_reach, handle_reach - handle_width, handle_thickness)
    keep = Manifold.cube((handle_reach + 0.01, 2 * handle_thickness, height)).translate(
        (r - wall / 2 - 0.001, -handle_thickness, 0.0))  # the half-space x >= inside the wall
    return (body - cavity) + (ring ^ keep)


def _quarter_ellipse(a: float, b: float, z_top: float, z_from: float, z_to: float, n: int) -> list[tuple[float, float]]:
    """(r, z) points of r = a * sqrt(1 - ((z_top - z) / b)^2) for z from z_from to z_to (n points)."""
    zs = np.linspace(z_from, z_to, n)
    return [(float(a * math.sqrt(max(0.0, 1 - ((z_top - z) / b) ** 2))), float(z)) for z in zs]


def bowl_solid(diameter: float = 0.16, height: float = 0.065, wall: float = 0.0045, foot_diameter: float = 0.07,
               floor: float = 0.006, n: int = 14) -> Manifold:
    """A round bowl: outer surface a half-ellipsoid cut flat at the foot, inner surface the same
    ellipsoid shrunk by the wall, cut flat at the floor; open top with a flat rim."""
    a = diameter / 2
    # semi-axis along z so that the outer surface meets z = 0 at the foot's radius
    b = height / math.sqrt(1 - (foot_diameter / diameter) ** 2)
    outer = _quarter_ellipse(a, b, height, 0.0, height, n)
    inner = _quarter_ellipse(a - wall, b - wall, height, height, floor, n)
    profile = [(0.0, 0.0), *outer, *inner, (0.0, floor)]
    return _lathe(profile)


def bottle_solid(diameter: float = 0.065, height: float = 0.22, neck_diameter: float = 0.028,
                 body_height: float = 0.15, shoulder_height: float = 0.04) -> Manifold:
    """A solid bottle: body cylinder, a cone-frustum shoulder, a neck cylinder (one lathe profile)."""
    r, rn = diameter / 2, neck_diameter / 2
    return _lathe([(0.0, 0.0), (r, 0.0), (r, body_height), (rn, body_height + shoulder_height),
                   (rn, height), (0.0, height)])


def box_solid(width: float = 0.12, depth: float = 0.06, height: float = 0.18) -> Manifold:
    """A closed carton: one cuboid (12 triangles)."""
    return Manifold.cube((width, depth, height))


def drawer_solid(width: float = 0.40, depth: float = 0.45, height: float = 0.12, wall: float = 0.012,
                 front: float = 0.018, handle_length: float = 0.14, handle_reach: float = 0.03,
                 bar_radius: float = 0.006) -> Manifold:
    """A drawer, front towards -y: an open-top tray (walls and floor `wall` thick) whose front wall is
    the thicker front panel, and a bar handle on two posts standing `handle_reach` off the panel."""
    shell = Manifold.cube((width, depth, height), center=True)
    inside = Manifold.cube((width - 2 * wall, depth - front - wall, height)).translate(
        (-width / 2 + wall, -depth / 2 + front, -height / 2 + wall))
    tray = shell - inside
    face_y = -depth / 2
    bar_y = face_y - handle_reach + bar_radius
    posts = Manifold()
    for x in (-0.4 * handle_length, 0.4 * handle_length):
        post = Manifold.cylinder(handle_reach - bar_radius + 0.002, bar_radius, circular_segments=HANDLE_SEGMENTS)
        posts += post.rotate((90.0, 0.0, 0.0)).translate((x, face_y + 0.002, 0.0))  # from inside the panel to the bar
    bar = Manifold.cylinder(handle_length, bar_radius, circular_segments=HANDLE_SEGMENTS, center=True)
    bar = bar.rotate((0.0, 90.0, 0.0)).translate((0.0, bar_y, 0.0))
    return tray + posts + bar


SOLIDS = {"mug": mug_solid, "bowl": bowl_solid, "bottle": bottle_solid, "box": box_solid, "drawer": drawer_solid}


# --- meshes (y-up, centred) -----------------------------------------------------------------------

def to_trimesh(solid: Manifold, name: str) -> trimesh.Trimesh:
    """The solid as a y-up trimesh with its bounding box centred on the origin and its PBR look."""
    m = solid.to_mesh()
    v = np.asarray(m.vert_properties, dtype=np.float64)[:, :3]
    v = np.column_stack([v[:, 0], v[:, 2], -v[:, 1]])  # z-up model -> y-up file
    v -= (v.min(axis=0) + v.max(axis=0)) / 2
    mesh = trimesh.Trimesh(vertices=v, faces=np.asarray(m.tri_verts, dtype=np.int64), process=False)
    rgba, metallic, roughness, alpha = LOOKS[name]
    mesh.visual = TextureVisuals(material=PBRMaterial(
        name=name, baseColorFactor=list(rgba), metallicFactor=metallic, roughnessFactor=roughness, alphaMode=alpha))
    return mesh


CARTON_PX = 128


def carton_texture() -> np.ndarray:
    """A printed carton (RGB, CARTON_PX square): cardboard brown, a white band with a red disc
    and two blue stripes, drawn with numpy (deterministic)."""
    n = CARTON_PX
    y, x = np.mgrid[0:n, 0:n] / n
    img = np.empty((n, n, 3), dtype=np.uint8)
    img[:] = LOOKS["box"][0][:3]
    band = (y > 0.3) & (y < 0.7)
    img[band] = (236, 232, 222)
    img[band & ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.15 ** 2)] = (200, 40, 40)
    img[(np.abs(y - 0.22) < 0.03) | (np.abs(y - 0.78) < 0.03)] = (40, 70, 160)
    return img


def _box_uv(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, np.ndarray]:
    """The mesh with its vertices split per face (so each face has its own coordinates) and the
    image projected onto every face along its normal's main axis, filling [0, 1] each way."""
    tris = mesh.vertices[mesh.faces]  # (m, 3, 3)
    axis = np.argmax(np.abs(mesh.face_normals), axis=1)
    lo, hi = mesh.bounds
    uv = np.empty((len(tris), 3, 2))
    for k, (a, b) in enumerate(((1, 2), (0, 2), (0, 1))):  # x-normal faces: (y, z); y: (x, z); z: (x, y)
        sel = axis == k
        uv[sel] = (tris[sel][..., [a, b]] - lo[[a, b]]) / (hi - lo)[[a, b]]
    split = trimesh.Trimesh(vertices=tris.reshape(-1, 3), faces=np.arange(len(tris) * 3).reshape(-1, 3), process=False)
    return split, uv.reshape(-1, 2)


def mug() -> trimesh.Trimesh:
    return to_trimesh(mug_solid(), "mug")


def bowl() -> trimesh.Trimesh:
    return to_trimesh(bowl_solid(), "bowl")


def bottle() -> trimesh.Trimesh:
    return to_trimesh(bottle_solid(), "bottle")


def box() -> trimesh.Trimesh:
    from PIL import Image

    mesh, uv = _box_uv(to_trimesh(box_solid(), "box"))
    rgba, metallic, roughness, alpha = LOOKS["box"]
    mesh.visual = TextureVisuals(uv=uv, material=PBRMaterial(
        name="box", baseColorTexture=Image.fromarray(carton_texture()), baseColorFactor=[255, 255, 255, 255],
        metallicFactor=metallic, roughnessFactor=roughness, alphaMode=alpha))
    return mesh


def drawer() -> trimesh.Trimesh:
    return to_trimesh(drawer_solid(), "drawer")


MESHES = {"mug": mug, "bowl": bowl, "bottle": bottle, "box": box, "drawer": drawer}


def glb_bytes(name: str, mesh: trimesh.Trimesh) -> bytes:
    """Binary glTF of one mesh in a scene whose node and mesh are called `name`."""
    scene = trimesh.Scene()
    scene.add_geometry(mesh, geom_name=name, node_name=name)
    return scene.export(file_type="glb")


def write_assets(folder: str | Path) -> dict[str, str]:
    """Writes `<name>.glb` for every mesh into `folder`; returns name -> file name (relative to it)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, make in MESHES.items():
        files[name] = f"{name}.glb"
        (out / files[name]).write_bytes(glb_bytes(name, make()))
    return files


# --- the meshed kitchen ---------------------------------------------------------------------------

COUNTER = {"x": 1.6, "y": 3.55, "size": (1.2, 0.7, 0.9)}  # back against the wall at y = 3.9
CABINET = {"x": 2.425, "y": 3.6, "size": (0.45, 0.6, 0.9)}  # right of the counter, back against the wall
DRAWER_TRAVEL = 0.35
# Free objects on the counter: id -> (asset, x, y, yaw in degrees). Robot bases stand in front of
# the counter (-y; its front edge is y = 3.2, a Franka's base centre about 15 cm before it, near
# x = 1.6), so two rows 20 and 46 cm behind the edge keep every object 0.35-0.7 m from the base.
ON_COUNTER = {
    "mug_left": ("mug", 1.25, 3.40, 180.0),  # handle -x: away from the other mug
    "apple": (None, 1.6, 3.40, 0.0),
    "mug_right": ("mug", 1.92, 3.40, 90.0),  # handle +y, towards the wall
    "bottle": ("bottle", 1.28, 3.66, 0.0),
    "bowl": ("bowl", 1.6, 3.66, 0.0),
    "box": ("box", 1.93, 3.66, 0.0),
}
APPLE_SIZE = (0.068, 0.068, 0.068)  # a small apple: 7 cm at most fits the Franka hand with its margin
DESCRIBED = {  # name, category, description, material, affordances
    "mug": ("Mug", "mug", "White ceramic mug with a C handle", "ceramic", ["Graspable", "Fillable"]),
    "apple": ("Apple", "apple", "A red apple", "fruit", ["Graspable"]),
    "bottle": ("Glass bottle", "bottle", "Green glass bottle", "glass", ["Graspable", "Pourable"]),
    "bowl": ("Bowl", "bowl", "Cream ceramic bowl", "ceramic", ["Graspable", "Fillable", "Stackable"]),
    "box": ("Cardboard box", "box", "Closed cardboard box standing upright", "cardboard", ["Graspable", "Stackable"]),
}


def _r(v: float) -> float:
    return round(float(v), 6)


def _yaw_quat(deg: float) -> dict[str, float]:
    half = math.radians(deg) / 2
    return {"w": _r(math.cos(half)), "x": 0.0, "y": 0.0, "z": _r(math.sin(half))}


def manifest_dimensions(mesh: trimesh.Trimesh) -> dict[str, float]:
    """The mesh's bounding box in a z-up manifest's terms (file x, z, y), rounded to mm."""
    ext = mesh.bounds[1] - mesh.bounds[0]
    return {"width": round(float(ext[0]), 3), "depth": round(float(ext[2]), 3), "height": round(float(ext[1]), 3)}


def manifest_object(oid: str, role: str, name: str, category: str, description: str, centre: tuple[float, float, float],
            dims: dict[str, float], *, yaw_deg: float = 0.0, material: str | None = None,
            affordances: list | None = None, asset: str | None = None, on: str | None = None) -> dict:
    """One manifest object (z-up, metres; `centre` is its box's centre, `asset` a GLB path)."""
    o: dict = {
        "id": oid, "sim_role": role, "name": name, "category": category, "description": description,
        "transform": {"position": {"x": _r(centre[0]), "y": _r(centre[1]), "z": _r(centre[2])},
                      "rotation_quaternion": _yaw_quat(yaw_deg), "scale": {"x": 1.0, "y": 1.0, "z": 1.0}},
        "dimensions_est": dims,
        "semantics": {"class": category, "affordances": affordances or []},
    }
    if material:
        o["physics_hints"] = {"material_type": material}
    if asset:
        o["asset"] = {"path": asset, "format": "glb", "source": "procedural", "asset_id": f"bp-meshed-{Path(asset).stem}",
                      "license": "CC0-1.0", "commercial_ok": True}
    if on:
        o["relationships"] = [{"type": "on", "subject_id": oid, "object_id": on}]
    return o


def _box_dims(size: tuple[float, float, float]) -> dict[str, float]:
    return {"width": size[0], "depth": size[1], "height": size[2]}


def kitchen_manifest(dims: dict[str, dict[str, float]], files: dict[str, str]) -> dict:
    """The manifest: floor, back wall, counter, base cabinet with the drawer mesh, and six free objects
    on the counter. `dims`: manifest dimensions per mesh name; `files`: asset path per mesh name."""
    ch = COUNTER["size"][2]
    _, kd, kh = CABINET["size"]
    objects = [
        manifest_object("floor", "scene_shell", "Floor", "floor", "Tiled kitchen floor", (2.0, 2.0, -0.01),
                _box_dims((4.0, 4.0, 0.02)), material="ceramic"),
        manifest_object("back_wall", "scene_shell", "Back wall", "wall", "", (2.0, 3.95, 1.35), _box_dims((4.0, 0.1, 2.7))),
        manifest_object("counter", "static", "Kitchen counter", "counter", "Worktop on base units, 90 cm high",
                (COUNTER["x"], COUNTER["y"], ch / 2), _box_dims(COUNTER["size"]), material="wood_panel",
                affordances=["Supportable"]),
        manifest_object("base_cabinet", "static", "Drawer cabinet", "base cabinet", "Base cabinet holding one drawer",
                (CABINET["x"], CABINET["y"], kh / 2), _box_dims(CABINET["size"]), material="wood_panel",
                affordances=["Supportable"]),
    ]
    # The drawer lies inside the cabinet's box: its handle flush with the cabinet's front, its top
    # 3 cm below the cabinet's top; it slides out towards the room (-y), as examples/kitchen.json's.
    dd = dims["drawer"]
    drawer_obj = manifest_object(
        "drawer", "articulated_furniture", "Top drawer", "drawer", "Wooden drawer with a bar handle",
        (CABINET["x"], CABINET["y"] - kd / 2 + dd["depth"] / 2, kh - 0.03 - dd["height"] / 2), dd,
        material="wood_panel", affordances=["Openable"], asset=files["drawer"])
    drawer_obj["articulation"] = {"type": "prismatic", "axis": [0.0, -1.0, 0.0],
                                  "limits": {"lower": 0.0, "upper": DRAWER_TRAVEL}, "damping": 5.0}
    objects.append(drawer_obj)
    for oid, (mesh_name, x, y, yaw) in ON_COUNTER.items():
        name, category, description, material, affordances = DESCRIBED[mesh_name or oid]
        d = dims[mesh_name] if mesh_name else _box_dims(APPLE_SIZE)
        objects.append(manifest_object(oid, "manipulable_object", name, category, description, (x, y, ch + d["height"] / 2),
                               d, yaw_deg=yaw, material=material, affordances=affordances,
                               asset=files[mesh_name] if mesh_name else None, on="counter"))
    return {
        "version": "1.0.0",
        "scene_id": "meshed_kitchen",
        "scene": {
            "coordinate_frame": "z_up",
            "meters_per_unit": 1.0,
            "environment_type": "kitchen",
            "room": {"bounds": {"width": 4.0, "depth": 4.0, "height": 2.7}, "origin": [0.0, 0.0, 0.0]},
            "physics_defaults": {"gravity": {"x": 0.0, "y": 0.0, "z": -9.81}, "solver": "TGS",
                                 "time_steps_per_second": 240},
        },
        "objects": objects,
        "assets": {"root": ".", "license_default": "CC0-1.0"},
        "metadata": {
            "author": "blueprint-pipeline examples",
            "license": "CC0-1.0",
            "generator": "blueprint_pipeline.testing.mesh_assets",
            "notes": ("Procedural meshes (y-up glTF, metres) under assets/, paths relative to this file; sizes in "
                      "metres, positions are bounding-box centres, dimensions_est are the meshes' boxes (mm), "
                      "objects rest exactly on their supports."),
        },
    }


def write_meshed_kitchen(folder: str | Path) -> str:
    """Writes `<folder>/assets/*.glb` and `<folder>/meshed_kitchen.json`; returns the manifest's path."""
    out = Path(folder)
    files = write_assets(out / "assets")
    dims = {name: manifest_dimensions(make()) for name, make in MESHES.items()}
    manifest = kitchen_manifest(dims, {name: f"assets/{f}" for name, f in files.items()})
    path = out / "meshed_kitchen.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return str(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the meshed kitchen example (manifest and GLB assets).")
    parser.add_argument("out_folder", help="folder to write meshed_kitchen.json and assets/ into")
    print(write_meshed_kitchen(parser.parse_args(argv).out_folder))


if __name__ == "__main__":
    main()
