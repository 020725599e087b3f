"""Headless rendering with `mujoco.Renderer`: EGL by default, OSMesa as the alternative (MUJOCO_GL).

MuJoCo chooses its OpenGL backend when it is first imported. If something imported mujoco before
MUJOCO_GL was set (GLFW is then chosen, which needs a display), the requested headless backend is
switched in here, before the renderer makes its context.

Frames (`FrameRenderer`) are anti-aliased. At SUPERSAMPLE_UP_TO_PX and below (the default
128x128), they are rendered at twice the size without multisampling and each 2x2 block is
averaged (supersampling). Larger frames use MuJoCo's 4x multisampling (`offsamples`). On Mesa's
software renderer (llvmpipe, a laptop without a GPU), a pair of 128x128 kitchen frames cost 9.1 ms
supersampled against 10.8 ms multisampled; at 224x224 supersampling cost more (14.4 against 13.8
ms). Supersampling also smooths textures and shading, which multisampling samples once per pixel.

Mesa's llvmpipe renders in LP_NUM_THREADS threads (default: one per core). The episodes stage
runs its episodes in worker processes (BP_WORKERS), and on 128x128 frames the threads' hand-offs
cost about 4% more CPU than rendering in the calling thread, so LP_NUM_THREADS defaults to 0 here
(a value the user sets is kept).
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("LP_NUM_THREADS", "0")  # before Mesa is loaded (module docstring)

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

_BACKENDS = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa"}
SUPERSAMPLE_UP_TO_PX = 128
ANTIALIASING = {True: "2x2 supersampling", False: "4x multisampling"}


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    backend = (os.environ.get("MUJOCO_GL") or "egl").lower()
    module_name = _BACKENDS.get(backend)
    if module_name is not None:
        from mujoco.rendering.classic import gl_context

        current = getattr(gl_context, "GLContext", None)
        if current is None or current.__module__ != module_name:
            gl_context.GLContext = importlib.import_module(module_name).GLContext
    return mujoco.Renderer(model, height, width)


def supersampled(size: int) -> bool:
    """Whether frames of `size` x `size` are supersampled (else multisampled)."""
    return size <= SUPERSAMPLE_UP_TO_PX


class FrameRenderer:
    """RGB frames of `size` x `size` from the model's cameras, anti-aliased (module docstring)."""

    def __init__(self, model: mujoco.MjModel, size: int):
        self.size = size
        self.factor = 2 if supersampled(size) else 1
        saved = int(model.vis.quality.offsamples)
        if self.factor > 1:  # the context's buffers are made with the model's sample count
            model.vis.quality.offsamples = 0
        try:
            self._renderer = make_renderer(model, size * self.factor, size * self.factor)
        finally:
            model.vis.quality.offsamples = saved

    def update_scene(self, data: mujoco.MjData, camera: int) -> None:
        self._renderer.update_scene(data, camera=camera)

    def render(self) -> np.ndarray:
        """The frame, (size, size, 3) uint8 (a new array)."""
        img = self._renderer.render()
        if self.factor == 1:
            return img
        s = img.astype(np.uint16)
        return ((s[0::2, 0::2] + s[1::2, 0::2] + s[0::2, 1::2] + s[1::2, 1::2] + 2) >> 2).astype(np.uint8)

    def close(self) -> None:
        self._renderer.close()
