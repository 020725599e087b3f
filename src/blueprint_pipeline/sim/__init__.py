"""sim package: MuJoCo scenes, planning, episode execution and the `episodes` stage."""

import os

# Headless rendering backend: EGL by default (osmesa as the alternative); must be set before
# mujoco is first imported.
os.environ.setdefault("MUJOCO_GL", "egl")
