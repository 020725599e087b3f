"""Headless rendering with `mujoco.Renderer`: EGL by default, OSMesa as the alternative (MUJOCO_GL).

MuJoCo chooses its OpenGL backend when it is first imported. If something imported mujoco before
MUJOCO_GL was set (GLFW is then chosen, which needs a display), the requested headless backend is
switched in here, before the renderer makes its context.
"""

from __future__ import annotations

import importlib
import os

import mujoco

_BACKENDS = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa"}


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    backend = (os.environ.get("MUJOCO_GL") or "egl").lower()
    module_name = _BACKENDS.get(backend)
    if module_name is not None:
        from mujoco.rendering.classic import gl_context

        current = getattr(gl_context, "GLContext", None)
        if current is None or current.__module__ != module_name:
            gl_context.GLContext = importlib.import_module(module_name).GLContext
    return mujoco.Renderer(model, height, width)
