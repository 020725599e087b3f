"""The same scene written in metres, centimetres and millimetres, z-up and y-up, normalises to the
same z-up metric scene: every length (positions, sizes, room, prismatic limits, gravity) is in
manifest units, and orientations and joint axes turn with the frame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.testing.corpus import _office

CONVENTIONS = [(u, a) for u in ("m", "cm", "mm") for a in ("z", "y")]


def _normalised(tmp_path: Path, units: str, up: str) -> tuple[dict, dict]:
    path = tmp_path / f"office_{units}_{up}.json"
    path.write_text(json.dumps(_office(5, units, up, yaw=-40.0)))
    ing = ManifestIngest(str(path))
    objects = {o.id: o for o in ing.objects()}
    return ing.header_record().model_dump(), objects


def _close(a, b, tol: float = 1e-6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("units", "up"), CONVENTIONS[1:])
def test_every_convention_normalises_to_the_same_scene(tmp_path: Path, units: str, up: str) -> None:
    ref_header, ref = _normalised(tmp_path, "m", "z")
    header, objs = _normalised(tmp_path, units, up)
    assert _close(header["gravity_m_s2"], ref_header["gravity_m_s2"])
    assert _close(header["room_size_m"], ref_header["room_size_m"])
    assert set(objs) == set(ref)
    for oid, r in ref.items():
        o = objs[oid]
        assert _close(o.position_m, r.position_m), oid
        assert _close(o.extents_m, r.extents_m), oid
        # q and -q are one rotation; both are normalised to w >= 0
        assert _close(o.orientation_wxyz, r.orientation_wxyz), oid
        assert _close(o.aabb_max_m, r.aabb_max_m), oid
        if r.articulation is not None:
            assert o.articulation.type == r.articulation.type
            assert _close(o.articulation.axis_local, r.articulation.axis_local), oid
            assert _close((o.articulation.lower, o.articulation.upper),
                          (r.articulation.lower, r.articulation.upper)), oid
