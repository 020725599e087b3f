"""How the rendered scene looks: colours and materials from the manifest, textures, lights.

Rendering only: nothing here changes a collider, a mass or a contact.

- **Material.** The physics record's material (`simready/materials.py`) gives a base colour, a
  texture kind (wood, stone, metal, fabric or none), specular and shininess (`LOOKS`); never
  reflectance, which MuJoCo draws as a mirror by rendering the scene once more per reflective geom
  (2.3x the CPU time per frame in the kitchen). A colour word in the object's name or description
  ("red mug", described "white")
  gives the base colour instead (`COLOUR_RGB`), and the material keeps its texture. Objects with
  neither keep the material's colour, tinted per category within the material's jitter range
  (`tint`) so that neighbours of one material stay apart. An unknown material is plain grey.
- **Textures** are made here, procedurally and periodic (so they tile): grey patterns that the
  material's colour tints. Wood has rings with a warped grain, stone is 1/f noise with speckles,
  metal is brushed (streaks along one axis), fabric is a plain weave. They are PNG files the
  model reads from the spec's in-memory assets (`textures/<kind>.png`); the episodes stage writes
  the same files next to the exported MJCF (`sim/stage.prepare_tasks`).
- **Lights** come from the room's size (`scene.floor.room_bounds`): one ceiling spotlight per
  3 m of the room's longer side, at most 2 (each light costs about 0.4 ms per 128x128 frame in
  software rendering), 5 cm under the ceiling (at most 2.8 m above the floor), pointing down, plus
  the headlight's ambient term. Shadows are off unless the run asks for them (`RunOptions.shadows`:
  MuJoCo then renders a shadow map per light, which costs CPU time in software rendering;
  docs/cameras.md has the measured cost).
- **The floor** is drawn finely over the room and coarsely beyond it (`drawn_floor_size`,
  `add_far_floor`). An infinite MuJoCo plane is drawn as a 200 x 200 grid out to the far clipping
  distance (about 250 m in the kitchen), and lights are computed at every vertex: on Mesa's
  software renderer the floor took about 40% of a 128x128 frame's CPU, its light interpolated
  over 2.5 m cells. The floor plane is drawn over the room grown by FLOOR_MARGIN_M, in at most
  FLOOR_GRID_LINES grid lines a side (cells of FLOOR_CELL_MIN_M or more), and a second plane, drawn
  only (it collides with nothing), FAR_FLOOR_DROP_M under it, carries the same material out to
  FAR_FLOOR_M in FAR_FLOOR_CELL_M cells. MuJoCo's planes collide as infinite planes whatever
  their drawn size, so no contact changes.
- **Per-episode visual randomisation** (`randomize_visuals`, when rendering and
  `RunOptions.visual_randomization` is on; its own stream, so no physics draw changes): the scene
  camera moves within +-2 cm and turns within +-2 deg; each light moves within +-0.5 m across and
  +-0.1 m up and down, its intensity within x0.7-1.3 and its colour temperature within about
  +-10% (red against blue); each object's colour within its material's jitter range (`tint`:
  two thirds brightness, one third hue) and each texture's scale within x0.8-1.25. `SimScene.restore_nominal` undoes all of it.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np

from blueprint_pipeline.simready.words import raw_words

TEXTURE_SIZE = 128
TEXTURE_DIR = "textures"


@dataclass(frozen=True)
class Look:
    rgb: tuple[float, float, float]
    texture: str | None = None  # one of TEXTURES, or plain
    specular: float = 0.3
    shininess: float = 0.3
    jitter: float = 0.08  # +- fraction per colour channel, per episode and per category
    texrepeat: float = 2.0  # texture repeats per metre


LOOKS: dict[str, Look] = {
    "wood": Look((0.55, 0.38, 0.22), "wood", 0.2, 0.2, jitter=0.12),
    "wood_panel": Look((0.74, 0.62, 0.47), "wood", 0.3, 0.3, jitter=0.10),
    "ceramic": Look((0.92, 0.91, 0.88), None, 0.6, 0.8, jitter=0.04),
    "glass": Look((0.74, 0.84, 0.86), None, 0.9, 0.9, jitter=0.04),
    "cardboard": Look((0.70, 0.55, 0.38), "stone", 0.1, 0.1, jitter=0.08, texrepeat=6.0),
    "paper": Look((0.93, 0.92, 0.88), "stone", 0.1, 0.1, jitter=0.04, texrepeat=8.0),
    "steel": Look((0.70, 0.71, 0.73), "metal", 0.8, 0.7, jitter=0.05),
    "aluminium": Look((0.80, 0.81, 0.83), "metal", 0.8, 0.7, jitter=0.05),
    "iron": Look((0.28, 0.28, 0.29), "metal", 0.5, 0.5, jitter=0.06),
    "cast_iron": Look((0.22, 0.22, 0.23), "stone", 0.4, 0.4, jitter=0.06, texrepeat=6.0),
    "brass": Look((0.78, 0.62, 0.30), "metal", 0.8, 0.7, jitter=0.05),
    "copper": Look((0.72, 0.45, 0.30), "metal", 0.8, 0.7, jitter=0.05),
    "plastic": Look((0.62, 0.62, 0.64), None, 0.4, 0.5, jitter=0.10),
    "pet": Look((0.80, 0.88, 0.92), None, 0.7, 0.8, jitter=0.05),
    "rubber": Look((0.16, 0.16, 0.16), None, 0.1, 0.1, jitter=0.10),
    "stone": Look((0.55, 0.53, 0.50), "stone", 0.3, 0.3, jitter=0.08),
    "granite": Look((0.45, 0.44, 0.43), "stone", 0.5, 0.6, jitter=0.08),
    "marble": Look((0.90, 0.89, 0.86), "stone", 0.6, 0.7, jitter=0.04),
    "concrete": Look((0.62, 0.62, 0.60), "stone", 0.1, 0.1, jitter=0.06),
    "tile": Look((0.88, 0.88, 0.86), None, 0.7, 0.8, jitter=0.05),
    "fabric": Look((0.45, 0.50, 0.62), "fabric", 0.05, 0.1, jitter=0.12, texrepeat=8.0),
    "upholstery": Look((0.40, 0.42, 0.48), "fabric", 0.05, 0.1, jitter=0.10, texrepeat=6.0),
    "leather": Look((0.40, 0.25, 0.15), None, 0.4, 0.5, jitter=0.10),
    "wicker": Look((0.70, 0.55, 0.32), "fabric", 0.1, 0.1, jitter=0.10, texrepeat=4.0),
    "cork": Look((0.68, 0.52, 0.36), "stone", 0.1, 0.1, jitter=0.06, texrepeat=8.0),
    "foam": Look((0.90, 0.85, 0.55), "stone", 0.05, 0.1, jitter=0.10, texrepeat=8.0),
    "fruit": Look((0.80, 0.35, 0.20), None, 0.4, 0.5, jitter=0.15),
    "wax": Look((0.95, 0.93, 0.85), None, 0.3, 0.4, jitter=0.04),
    "epoxy_resin": Look((0.60, 0.70, 0.75), None, 0.8, 0.8, jitter=0.06),
    "display": Look((0.05, 0.05, 0.07), None, 0.9, 0.9, jitter=0.02),
    "electronics": Look((0.15, 0.15, 0.17), None, 0.5, 0.5, jitter=0.05),
    "water": Look((0.50, 0.70, 0.90), None, 0.9, 0.9, jitter=0.04),
}
UNKNOWN = Look((0.60, 0.60, 0.60), None)

# colour words a person uses for objects (language.py says them in instructions), as sRGB-ish
COLOUR_RGB: dict[str, tuple[float, float, float]] = {
    "red": (0.80, 0.12, 0.10), "green": (0.15, 0.60, 0.20), "blue": (0.12, 0.30, 0.80),
    "yellow": (0.95, 0.82, 0.15), "orange": (0.95, 0.50, 0.10), "purple": (0.50, 0.20, 0.60),
    "pink": (0.95, 0.55, 0.65), "brown": (0.45, 0.28, 0.15), "black": (0.06, 0.06, 0.06),
    "white": (0.94, 0.94, 0.92), "grey": (0.50, 0.50, 0.50), "gray": (0.50, 0.50, 0.50),
    "silver": (0.75, 0.76, 0.78), "gold": (0.85, 0.68, 0.25), "golden": (0.85, 0.68, 0.25),
    "beige": (0.85, 0.78, 0.62), "cream": (0.95, 0.92, 0.80), "teal": (0.10, 0.50, 0.50),
    "turquoise": (0.25, 0.80, 0.75), "navy": (0.08, 0.12, 0.40), "violet": (0.55, 0.35, 0.80),
    "maroon": (0.45, 0.08, 0.10),
}


def colour_word(*texts: str) -> str | None:
    """The first colour word (a key of COLOUR_RGB) in the texts, in order, or None."""
    for text in texts:
        for w in raw_words(text):
            if w in COLOUR_RGB:
                return w
    return None


def object_rgb(name: str, description: str, category: str, material: str | None) -> tuple[np.ndarray, Look]:
    """An object's base colour (module docstring) and its material's look."""
    look = LOOKS.get(material or "", UNKNOWN)
    word = colour_word(name, description)
    if word is not None:
        return np.array(COLOUR_RGB[word]), look
    rng = np.random.default_rng(zlib.crc32(category.encode()))  # stable per category
    return np.clip(np.array(look.rgb) * tint(rng, look.jitter), 0.0, 1.0), look


def tint(rng: np.random.Generator, jitter: float) -> np.ndarray:
    """Per-channel factors within +-`jitter`: mostly brightness (one factor for the three
    channels), a third of it hue (per channel), so that wood stays brown."""
    return (1.0 + rng.uniform(-jitter, jitter) * 2 / 3) * (1.0 + rng.uniform(-jitter, jitter, 3) / 3)


# --- textures ------------------------------------------------------------------------------------

def _periodic_noise(rng: np.random.Generator, size: int, beta: float, stretch=(1.0, 1.0)) -> np.ndarray:
    """Tileable noise in [0, 1]: white noise shaped by 1/f^beta in the frequency domain
    (`stretch` makes it coarser along one axis)."""
    f = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(f * stretch[0], f * stretch[1], indexing="ij")
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    spectrum = np.fft.fft2(rng.standard_normal((size, size))) / radius ** beta
    spectrum[0, 0] = 0.0
    out = np.real(np.fft.ifft2(spectrum))
    return (out - out.min()) / max(float(np.ptp(out)), 1e-12)


def texture_pixels(kind: str, size: int = TEXTURE_SIZE) -> np.ndarray:
    """(size, size, 3) uint8 grey pattern of a texture kind; the material's colour tints it."""
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    y, x = np.meshgrid(np.arange(size) / size, np.arange(size) / size, indexing="ij")
    if kind == "wood":  # rings across x, warped by coarse noise, with a fine grain along y
        warp = _periodic_noise(rng, size, 2.0)
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * (6 * x + 1.5 * warp))
        grain = _periodic_noise(rng, size, 1.0, stretch=(0.1, 1.0))
        v = 0.72 + 0.18 * rings + 0.10 * grain
    elif kind == "stone":
        v = 0.70 + 0.22 * _periodic_noise(rng, size, 1.3) + 0.08 * (rng.random((size, size)) > 0.93)
    elif kind == "metal":  # brushed: streaks along x
        v = 0.84 + 0.16 * _periodic_noise(rng, size, 1.0, stretch=(1.0, 0.05))
    elif kind == "fabric":  # plain weave: threads crossing over and under, 16 per tile
        warp_up = ((np.floor(x * 16) + np.floor(y * 16)) % 2).astype(float)
        thread = 0.5 + 0.5 * np.abs(np.sin(np.pi * np.where(warp_up > 0, x, y) * 16))
        v = 0.74 + 0.14 * thread + 0.12 * _periodic_noise(rng, size, 1.0)
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    grey = np.clip(v, 0.0, 1.0)
    return np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)


TEXTURES = ("wood", "stone", "metal", "fabric")


@lru_cache(maxsize=None)
def texture_png(kind: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(texture_pixels(kind)).save(buf, format="PNG")
    return buf.getvalue()


def texture_file(kind: str) -> str:
    return f"{TEXTURE_DIR}/{kind}.png"


# --- building the spec ---------------------------------------------------------------------------

class Painter:
    """Adds textures and one material per painted object to a spec, on demand."""

    def __init__(self, spec: mujoco.MjSpec):
        self.spec = spec
        self._textures: set[str] = set()
        self.materials: dict[str, Look] = {}  # material name -> its look (its jitter range)

    def _texture(self, kind: str) -> str:
        if kind not in self._textures:
            assets = dict(self.spec.assets)
            assets[texture_file(kind)] = texture_png(kind)
            self.spec.assets = assets
            tex = self.spec.add_texture()
            tex.name, tex.type, tex.file = f"tex_{kind}", mujoco.mjtTexture.mjTEXTURE_2D, texture_file(kind)
            self._textures.add(kind)
        return f"tex_{kind}"

    def material(self, name: str, rgb, look: Look) -> str:
        """A material `name` of colour `rgb` with the look's surface; returns its name."""
        mat = self.spec.add_material()
        mat.name = name
        mat.rgba = [*map(float, rgb), 1.0]
        mat.specular, mat.shininess = look.specular, look.shininess  # no reflectance: module docstring
        if look.texture is not None:
            mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = self._texture(look.texture)
            mat.texuniform = True
            mat.texrepeat = [look.texrepeat, look.texrepeat]
        self.materials[name] = look
        return name

    def paint_image(self, geoms, name: str, file: str, png: bytes, rgb, look: Look) -> None:
        """Give `geoms` (meshes with texture coordinates) a material `name` sampling the image
        `png` (`file`: its name among the spec's assets and in written MJCF), times `rgb`, with
        the look's surface and colour jitter."""
        if file not in self._textures:
            self.spec.assets = {**dict(self.spec.assets), file: png}
            tex = self.spec.add_texture()
            tex.name, tex.type, tex.file = f"tex_{file}", mujoco.mjtTexture.mjTEXTURE_2D, file
            self._textures.add(file)
        mat = self.spec.add_material()
        mat.name = name
        mat.rgba = [*map(float, rgb), 1.0]
        mat.specular, mat.shininess = look.specular, look.shininess
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"tex_{file}"
        self.materials[name] = look
        for g in geoms:
            g.material = name
            g.rgba = [*map(float, rgb), 1.0]

    def paint(self, geoms, name: str, rgb, look: Look) -> None:
        """Give `geoms` one material (their rgba too, which MuJoCo uses over a material's
        when it is not the default)."""
        mat = self.material(name, rgb, look)
        for g in geoms:
            g.material = mat
            g.rgba = [*map(float, rgb), 1.0]


FLOOR_MARGIN_M = 5.0
FLOOR_GRID_LINES = 100
FLOOR_CELL_MIN_M = 0.25
FAR_FLOOR_M = 100.0
FAR_FLOOR_CELL_M = 5.0  # 10 m cells lit a visible seam where the room's floor ends
FAR_FLOOR_DROP_M = 0.01


def drawn_floor_size(room_lo: np.ndarray, room_hi: np.ndarray) -> list[float]:
    """The floor plane's size (half-extents, grid cell) for drawing it around the room (module
    docstring); the plane is centred on the world's origin."""
    reach = float(np.max(np.abs([room_lo[:2], room_hi[:2]]))) + FLOOR_MARGIN_M
    return [reach, reach, max(FLOOR_CELL_MIN_M, 2 * reach / FLOOR_GRID_LINES)]


def add_far_floor(spec: mujoco.MjSpec) -> mujoco.MjsGeom:
    """The floor beyond the room: a coarse plane, drawn only, just under the floor."""
    far = spec.worldbody.add_geom()
    far.name = "floor_far"
    far.type = mujoco.mjtGeom.mjGEOM_PLANE
    far.size = [FAR_FLOOR_M, FAR_FLOOR_M, FAR_FLOOR_CELL_M]
    far.pos = [0.0, 0.0, -FAR_FLOOR_DROP_M]
    far.contype = far.conaffinity = 0
    return far


MAX_LIGHTS = 2


def add_lights(spec: mujoco.MjSpec, room_lo: np.ndarray, room_hi: np.ndarray, floor_z: float) -> int:
    """Ceiling spotlights over the room (module docstring), shadows off; returns how many."""
    spec.visual.headlight.ambient = [0.3, 0.3, 0.3]
    spec.visual.headlight.diffuse = [0.25, 0.25, 0.25]
    spec.visual.headlight.specular = [0.1, 0.1, 0.1]
    spec.visual.quality.shadowsize = 0
    size = np.maximum(np.asarray(room_hi[:2]) - np.asarray(room_lo[:2]), 0.5)
    counts = np.ones(2, int)
    counts[int(np.argmax(size))] = int(np.clip(np.round(size.max() / 3.0), 1, MAX_LIGHTS))
    z = min(float(room_hi[2]) - 0.05, floor_z + 2.8)
    n = 0
    for i in range(counts[0]):
        for j in range(counts[1]):
            light = spec.worldbody.add_light()
            light.name = f"ceiling_light_{n}"
            light.pos = [room_lo[0] + (i + 0.5) * size[0] / counts[0], room_lo[1] + (j + 0.5) * size[1] / counts[1], z]
            light.dir = [0.0, 0.0, -1.0]
            light.diffuse = [0.55 / np.sqrt(counts.prod())] * 3
            light.specular = [0.2, 0.2, 0.2]
            light.cutoff, light.exponent = 80.0, 2.0
            light.castshadow = False
            n += 1
    return n


SHADOW_MAP_SIZE = 2048


def set_shadows(model: mujoco.MjModel, on: bool) -> None:
    """Shadows from every light, or none; call before making the renderer (its context sizes the
    shadow map from the model)."""
    model.vis.quality.shadowsize = SHADOW_MAP_SIZE if on else 0
    model.light_castshadow[:] = 1 if on else 0


# --- per episode ---------------------------------------------------------------------------------

def _small_turn(rng: np.random.Generator, max_rad: float) -> np.ndarray:
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(-max_rad, max_rad)
    return np.array([np.cos(angle / 2), *(np.sin(angle / 2) * axis)])


def randomize_visuals(model: mujoco.MjModel, rng: np.random.Generator, jitter_of_material: dict[str, float],
                      camera: str) -> None:
    """Draw the episode's look (module docstring) into `model`, from the model's values now
    (nominal: the caller restores them between episodes)."""
    cam = model.camera(camera).id
    model.cam_pos[cam] = model.cam_pos[cam] + rng.uniform(-0.02, 0.02, 3)
    quat = np.zeros(4)
    mujoco.mju_mulQuat(quat, _small_turn(rng, np.deg2rad(2.0)), model.cam_quat[cam])
    model.cam_quat[cam] = quat / np.linalg.norm(quat)
    for i in range(model.nlight):
        model.light_pos[i] = model.light_pos[i] + np.array([*rng.uniform(-0.5, 0.5, 2), rng.uniform(-0.1, 0.1)])
        warm = rng.uniform(-0.1, 0.1)
        model.light_diffuse[i] = np.clip(model.light_diffuse[i] * rng.uniform(0.7, 1.3)
                                         * np.array([1 + warm, 1.0, 1 - warm]), 0.0, 1.0)
    for i in range(model.nmat):
        j = jitter_of_material.get(model.material(i).name, 0.0)
        if j > 0.0:
            model.mat_rgba[i, :3] = np.clip(model.mat_rgba[i, :3] * tint(rng, j), 0.0, 1.0)
            scale = rng.uniform(0.8, 1.25)
            if model.mat_texuniform[i]:  # a procedural texture's scale; a mesh's image keeps its mapping
                model.mat_texrepeat[i] = model.mat_texrepeat[i] * scale
    for g in np.flatnonzero(model.geom_matid >= 0):
        model.geom_rgba[g] = model.mat_rgba[model.geom_matid[g]]
