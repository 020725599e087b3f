"""A compiled scene's MJCF text at full precision.

MuJoCo's XML writer keeps 6 significant digits, so a model loaded from `MjSpec.to_xml()` drifts
from the spec's own compiled model (1e-5 m in 2,000 steps of the table-top scene). MuJoCo has no
public setting for it; its own tests raise it to 17 digits with the exported
`_mjPRIVATE__set_xml_precision` (src/xml/xml_numeric_format.h), and so does `to_xml_exact`, for
the duration of one call, through ctypes on the library the bindings loaded. With 17 digits the
file's model steps exactly as the spec's (tests/test_episodes_stage.py). Should a MuJoCo release
drop the symbol, the text is written at the default precision and `exact` says so.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading

import mujoco

FULL_PRECISION = 17
_lock = threading.Lock()


def _library() -> ctypes.CDLL | None:
    for path in sorted(glob.glob(os.path.join(os.path.dirname(mujoco.__file__), "libmujoco.so*"))
                       + glob.glob(os.path.join(os.path.dirname(mujoco.__file__), "*mujoco*.dylib"))):
        lib = ctypes.CDLL(path)  # the library already loaded: the same handle, the same setting
        if hasattr(lib, "_mjPRIVATE__set_xml_precision") and hasattr(lib, "_mjPRIVATE__get_xml_precision"):
            return lib
    return None


def to_xml_exact(spec: mujoco.MjSpec) -> tuple[str, bool]:
    """(MJCF text of `spec`, whether it was written at full precision)."""
    lib = _library()
    if lib is None:
        return spec.to_xml(), False
    with _lock:
        before = lib._mjPRIVATE__get_xml_precision()
        lib._mjPRIVATE__set_xml_precision(FULL_PRECISION)
        try:
            return spec.to_xml(), True
        finally:
            lib._mjPRIVATE__set_xml_precision(before)
