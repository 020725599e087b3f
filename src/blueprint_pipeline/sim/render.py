"""Headless rendering: EGL by default, OSMesa as the alternative (MUJOCO_GL).

MuJoCo chooses its OpenGL backend when it is first imported. If something imported mujoco before
MUJOCO_GL was set (GLFW is then chosen, which needs a display), the requested headless backend is
switched in here, before a renderer makes its context.

Frames (`FrameRenderer`) are anti-aliased. At SUPERSAMPLE_UP_TO_PX and below (the default
128x128), they are rendered at twice the size without multisampling and each 2x2 block is
averaged (supersampling). Larger frames use MuJoCo's 4x multisampling (`offsamples`). On Mesa's
software renderer (llvmpipe, a laptop without a GPU), a pair of 128x128 kitchen frames cost 9.1 ms
supersampled against 10.8 ms multisampled; at 224x224 supersampling cost more (14.4 against 13.8
ms). Supersampling also smooths textures and shading, which multisampling samples once per pixel.

The cameras of one instant are drawn side by side into one offscreen buffer and read back at
once (MuJoCo's own `mujoco.Renderer` draws one camera per buffer). `FrameRenderer.shared` keeps
one renderer per thread and reuses it for the next episode of the same model: making its OpenGL
context and uploading the meshes and textures cost about 60 ms, and the only model field the
context copies that the episodes change is the materials' texture repeats (visual randomisation),
which are copied again on every reuse. (A floor plane's grid, laid out when the context is made,
also follows its material's repeats then: a reused context's floor can differ from a new one's by
one grey level in the lighting interpolated across it, not in its pattern.)

On llvmpipe the cost is in the vertices lit and the texels sampled, so the context is made with
coarser built-in shapes than MuJoCo's defaults (TESSELLATION: 16 slices and 10 stacks for
cylinders, capsules and spheres instead of 28 and 16, 2 quads per box face edge instead of 4; the
lights are computed per vertex) and its 2D textures are sampled from the nearest mipmap level
instead of blending two. A pair of 128x128 kitchen frames (both robots drawn with their meshes)
then costs 7.0-7.2 ms instead of 8.5-8.7 ms, and the frames differ from those made with MuJoCo's
defaults by 0.3-0.6 grey levels per pixel on average; docs/cameras.md has the episodes' figures.
The floor, an infinite plane drawn as a 200 x 200 grid, was then about 40% of a frame: it is drawn
finite (sim/appearance.py), and a pair of UR10 kitchen frames costs 5.3 ms instead of 8.2 ms.

Mesa's llvmpipe renders in LP_NUM_THREADS threads (default: one per core). The episodes stage
runs its episodes in worker processes (BP_WORKERS), and on 128x128 frames the threads' hand-offs
cost about 4% more CPU than rendering in the calling thread, so LP_NUM_THREADS defaults to 0 here
(a value the user sets is kept).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence

os.environ.setdefault("LP_NUM_THREADS", "0")  # before Mesa is loaded (module docstring)

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

_BACKENDS = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa"}
SUPERSAMPLE_UP_TO_PX = 128
ANTIALIASING = {True: "2x2 supersampling", False: "4x multisampling"}
MAX_VIEWS = 2  # cameras drawn side by side (the episodes record two)
# MuJoCo's built-in shapes in the renderer's context: slices and stacks of cylinders, capsules and
# spheres, and quads per box face edge (MuJoCo's defaults 28, 16, 4; module docstring)
TESSELLATION = {"numslices": 16, "numstacks": 10, "numquads": 2}


def _use_headless_backend() -> None:
    backend = (os.environ.get("MUJOCO_GL") or "egl").lower()
    module_name = _BACKENDS.get(backend)
    if module_name is not None:
        from mujoco.rendering.classic import gl_context

        current = getattr(gl_context, "GLContext", None)
        if current is None or current.__module__ != module_name:
            gl_context.GLContext = importlib.import_module(module_name).GLContext


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """MuJoCo's own renderer on the headless backend (single camera; tests and camera checks)."""
    _use_headless_backend()
    return mujoco.Renderer(model, height, width)


def supersampled(size: int) -> bool:
    """Whether frames of `size` x `size` are supersampled (else multisampled)."""
    return size <= SUPERSAMPLE_UP_TO_PX


def _nearest_mipmap(ctx: mujoco.MjrContext) -> None:
    """Sample the context's 2D textures from the nearest mipmap level (bilinear within it) instead
    of blending two levels (MuJoCo's trilinear filtering); module docstring."""
    from OpenGL import GL

    for i in range(ctx.ntexture):
        if ctx.textureType[i] == mujoco.mjtTexture.mjTEXTURE_2D:
            GL.glBindTexture(GL.GL_TEXTURE_2D, int(ctx.texture[i]))
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR_MIPMAP_NEAREST)
    GL.glBindTexture(GL.GL_TEXTURE_2D, 0)


class FrameRenderer:
    """RGB frames of `size` x `size` from up to `views` of the model's cameras at once,
    anti-aliased (module docstring)."""

    def __init__(self, model: mujoco.MjModel, size: int, views: int = MAX_VIEWS):
        _use_headless_backend()
        from mujoco.rendering.classic import gl_context

        self.model, self.size, self.views = model, size, views
        self.factor = 2 if supersampled(size) else 1
        px = size * self.factor
        width, height = px * views, px
        # the context is made from these model fields: set for it, then restored
        quality, glob = model.vis.quality, model.vis.global_
        made_with = [(quality, name, value) for name, value in TESSELLATION.items()]
        made_with += [(glob, "offwidth", max(glob.offwidth, width)), (glob, "offheight", max(glob.offheight, height))]
        if self.factor > 1:  # supersampled: no multisampling
            made_with.append((quality, "offsamples", 0))
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in made_with]
        for obj, name, value in made_with:
            setattr(obj, name, value)
        self._gl = None
        try:
            self._gl = gl_context.GLContext(width, height)
            self._gl.make_current()
            self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._ctx)
            _nearest_mipmap(self._ctx)
        except BaseException:
            self.close()
            raise
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)
        self._scene = mujoco.MjvScene(model=model, maxgeom=10000)
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._rects = [mujoco.MjrRect(i * px, 0, px, px) for i in range(views)]
        self._pixels = np.empty((height, width, 3), np.uint8)

    _local = threading.local()

    @classmethod
    def shared(cls, model: mujoco.MjModel, size: int) -> FrameRenderer:
        """This thread's renderer for `model` at `size`, made once and reused (module docstring);
        a renderer for another model or size is closed first. Do not close the one returned."""
        current = getattr(cls._local, "renderer", None)
        if current is not None and (current.model is not model or current.size != size):
            current.close()
            current = None
        if current is None:
            current = cls._local.renderer = cls(model, size)
        else:
            current.sync_materials()
        return current

    def sync_materials(self) -> None:
        """Copy the model's texture repeats into the context (visual randomisation changes them)."""
        n = self.model.nmat
        self._ctx.mat_texrepeat[:2 * n] = self.model.mat_texrepeat.ravel()

    def render_views(self, data: mujoco.MjData, cameras: Sequence[int]) -> list[np.ndarray]:
        """One frame per camera id in `cameras` (at most `views`), (size, size, 3) uint8 each."""
        if not 0 < len(cameras) <= self.views:
            raise ValueError(f"{len(cameras)} cameras for a renderer of {self.views} views")
        self._gl.make_current()
        for rect, cam in zip(self._rects, cameras):
            self._camera.fixedcamid = cam
            mujoco.mjv_updateScene(self.model, data, self._option, None, self._camera,
                                   mujoco.mjtCatBit.mjCAT_ALL.value, self._scene)
            mujoco.mjr_render(rect, self._scene, self._ctx)
        px = self.size * self.factor
        used = mujoco.MjrRect(0, 0, px * len(cameras), px)
        pixels = self._pixels if len(cameras) == self.views else np.empty((px, px * len(cameras), 3), np.uint8)
        mujoco.mjr_readPixels(pixels, None, used, self._ctx)
        if self.factor == 1:
            rows = pixels[::-1]
        else:  # the 2x2 blocks' rounded mean, in uint16
            s = pixels.astype(np.uint16)
            t = s[0::2]
            t += s[1::2]
            rows = t[:, 0::2] + t[:, 1::2]
            rows += 2
            rows >>= 2
            rows = rows[::-1]
        return [rows[:, i * self.size:(i + 1) * self.size].astype(np.uint8) for i in range(len(cameras))]

    def close(self) -> None:
        if getattr(self, "_ctx", None) is not None and self._gl is not None:
            self._gl.make_current()
            self._ctx.free()
        self._ctx = None
        if self._gl is not None:
            self._gl.free()
        self._gl = None
        if getattr(FrameRenderer._local, "renderer", None) is self:
            FrameRenderer._local.renderer = None
