"""Manifest values -> the normalised records (z-up, metres, radians, unit quaternions w-x-y-z).

y-up input is turned into z-up by the rotation C: (x, y, z) -> (x, -z, y), a +90 degree turn
about x (never a mirror), applied to positions, orientations (q' = qc q qc^-1), object axes,
articulation axes, gravity and the room origin. An object's local axes turn with it, so its
extents (width along x, height along y, depth along z in y-up) become (width, depth, height)
along its local x, y, z; a y-up table 0.75 m high with its centre at y = 0.375 ends with its top
at z = 0.75. `meters_per_unit` scales every length: positions, extents, room bounds and origin, prismatic
limits and gravity (a centimetre scene states -981).

Rotations come from `blueprint_pipeline.rotations` (MuJoCo's quaternion functions); the rest is
pure Python floats: per object it is a few multiplications, where numpy's per-call overhead
would cost more than the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from blueprint_pipeline.rotations import Y_UP_TO_Z_UP, quat_from_euler, quat_in_frame, quat_normalise
from blueprint_pipeline.scene.manifest import EulerIn, ManifestHeader, ManifestObject
from blueprint_pipeline.scene.records import QuatWXYZ, Vec3

def y_up_to_z_up(v: Sequence[float]) -> Vec3:
    """(x, y, z) -> (x, -z, y)."""
    return (v[0], -v[2], v[1])


def y_up_to_z_up_quat(q: Sequence[float]) -> QuatWXYZ:
    """q' = qc q qc^-1 with qc the +90 degree turn about x."""
    return quat_in_frame(Y_UP_TO_Z_UP, q)


class FrameConversion:
    """The manifest's frame, length unit and angle unit, applied to its values."""

    def __init__(self, header: ManifestHeader) -> None:
        self.y_up = header.scene.coordinate_frame == "y_up"
        self.m_per_unit = header.scene.meters_per_unit
        self.degrees = header.scene.euler_units == "degrees"
        # Whether the manifest states its angle unit: revolute limits beyond a full turn are then
        # taken as written (a multi-turn knob); unstated, they are degrees written as radians.
        self.euler_units_given = "euler_units" in header.scene.model_fields_set

    def angle_rad(self, value: float) -> float:
        return math.radians(value) if self.degrees else value

    def point_m(self, v: Sequence[float]) -> Vec3:
        s = self.m_per_unit
        p = (v[0] * s, v[1] * s, v[2] * s)
        return y_up_to_z_up(p) if self.y_up else p

    def direction(self, v: Sequence[float]) -> Vec3:
        return y_up_to_z_up(v) if self.y_up else (v[0], v[1], v[2])

    def local_axes(self, v: Sequence[float]) -> Vec3:
        """Per-local-axis magnitudes (extents, scale): y-up (x, y, z) -> z-up (x, z, y)."""
        return (v[0], v[2], v[1]) if self.y_up else (v[0], v[1], v[2])

    def orientation(self, obj: ManifestObject) -> QuatWXYZ:
        t = obj.transform
        if t.rotation_quaternion is not None:
            r = t.rotation_quaternion
            q: Sequence[float] = (r.w, r.x, r.y, r.z)
        elif t.rotation_euler is not None:
            e: EulerIn = t.rotation_euler
            q = quat_from_euler(self.angle_rad(e.roll), self.angle_rad(e.pitch), self.angle_rad(e.yaw))
        else:
            q = (1.0, 0.0, 0.0, 0.0)
        q = quat_normalise(q)
        return quat_normalise(y_up_to_z_up_quat(q)) if self.y_up else q

    def extents_m(self, obj: ManifestObject, dims: Sequence[float] | None = None) -> tuple[Vec3, Vec3]:
        """(extents_m, scale) along the object's z-up local axes. `dims` (width, depth, height) in
        manifest units replaces `dimensions_est` (sizes measured on the asset)."""
        s, m = obj.transform.scale, self.m_per_unit
        if dims is None:
            d = obj.dimensions_est
            assert d is not None, "object without dimensions_est needs dims"
            dims = (d.width, d.depth, d.height)
        width, depth, height = dims
        if self.y_up:  # manifest local axes: width = x, height = y, depth = z
            local = (width * s.x, height * s.y, depth * s.z)
        else:  # width = x, depth = y, height = z
            local = (width * s.x, depth * s.y, height * s.z)
        ext = self.local_axes((local[0] * m, local[1] * m, local[2] * m))
        return ext, self.local_axes((s.x, s.y, s.z))

    def room(self, header: ManifestHeader) -> tuple[Vec3 | None, Vec3 | None]:
        room = header.scene.room
        if room is None:
            return None, None
        m = self.m_per_unit
        size = (room.bounds.width * m, room.bounds.depth * m, room.bounds.height * m) if room.bounds else None
        origin = self.point_m(room.origin) if room.origin is not None else None
        return size, origin

    def gravity(self, header: ManifestHeader) -> Vec3:
        pd = header.scene.physics_defaults
        if pd is None or pd.gravity is None:
            return (0.0, 0.0, -9.81)
        g, s = pd.gravity, self.m_per_unit  # manifest units/s^2 -> m/s^2
        return self.direction((g.x * s, g.y * s, g.z * s))


def snap(v: Sequence[float], digits: int = 12) -> Any:
    """Round away float dust from the conversions (1e-17 -> 0.0) so files are stable and readable."""
    return [round(x, digits) + 0.0 for x in v]
