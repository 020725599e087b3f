"""The manifest contract: what is accepted as written, what is refused, and how text is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from blueprint_pipeline.scene import sanitise
from blueprint_pipeline.scene.manifest import Manifest, ManifestObject

EXAMPLES = Path(__file__).parent.parent / "examples"


def obj(**over: object) -> dict:
    o = {"id": "mug_1", "sim_role": "manipulable_object", "category": "mug",
         "transform": {"position": {"x": 0, "y": 0, "z": 0.05}},
         "dimensions_est": {"width": 0.08, "depth": 0.08, "height": 0.1}}
    o.update(over)
    return o


@pytest.mark.parametrize("name", ["kitchen", "office", "warehouse"])
def test_whole_manifest_model_accepts_the_examples(name: str) -> None:
    m = Manifest.model_validate(json.loads((EXAMPLES / f"{name}.json").read_text()))
    assert len(m.objects) >= 10


@pytest.mark.parametrize("text", ["A red mug, ceramic", "Café au lait", "<script>alert(1)</script>", "Mug (350 ml) — 8 × 10 cm",
                                  "杯子", "Kaffeebecher: groß!"])
def test_honest_text_passes_unchanged(text: str) -> None:
    o = ManifestObject.model_validate(obj(name=text, description=text + "\nsecond line", category=text))
    assert o.name == text and o.category == text and o.description == text + "\nsecond line"


@pytest.mark.parametrize("text", ["mug\x00", "mug\x1b[31m", "mug\u202egum", "line\nbreak", "mug\u2028"])
def test_control_characters_are_refused_in_names(text: str) -> None:
    with pytest.raises(ValidationError):
        ManifestObject.model_validate(obj(name=text))


def test_length_limits() -> None:
    ManifestObject.model_validate(obj(description="d" * 1024))
    with pytest.raises(ValidationError):
        ManifestObject.model_validate(obj(description="d" * 1025))
    with pytest.raises(ValidationError):
        ManifestObject.model_validate(obj(id="x" * 129))


@pytest.mark.parametrize("path", ["objects/mug.glb", "a/b/c.usd", "gs://bucket/assets/mug.usd", "s3://b/k.glb", "./mug.glb"])
def test_asset_paths_accepted(path: str) -> None:
    assert sanitise.check_asset_path(path) == path


@pytest.mark.parametrize("path", ["../mug.glb", "a/../../b", "/abs/mug.glb", "C:/x.glb", "a\\..\\b", "http://x/y.glb",
                                  "file:///etc/passwd", "", "javascript:alert(1)"])
def test_asset_paths_refused(path: str) -> None:
    with pytest.raises(ValueError):
        sanitise.check_asset_path(path)


def test_resolve_asset_path_stays_inside_the_root() -> None:
    assert sanitise.resolve_asset_path("assets", "objects/mug.glb") == "assets/objects/mug.glb"
    assert sanitise.resolve_asset_path("/data/assets/", "./a/b.usd") == "/data/assets/a/b.usd"
    with pytest.raises(ValueError):
        sanitise.resolve_asset_path("assets", "../secrets.txt")


def test_affordances_as_strings_or_objects() -> None:
    o = ManifestObject.model_validate(obj(semantics={"affordances": ["graspable", "can_open", {"type": "Pourable", "x": 1}]}))
    assert o.semantics is not None
    assert [a["type"] for a in o.semantics.affordances] == ["Graspable", "CanOpen", "Pourable"]
    with pytest.raises(ValidationError):
        ManifestObject.model_validate(obj(semantics={"affordances": [{"kind": "Graspable"}]}))


def test_axis_forms_are_unit_vectors() -> None:
    for axis in ([0, 0, 2], {"x": 0, "y": 0, "z": 5}, "z", "+z"):
        a = ManifestObject.model_validate(obj(sim_role="articulated_furniture", articulation={
            "type": "revolute", "axis": axis, "limits": {"lower": 0, "upper": 1}})).articulation
        assert a is not None and a.axis == (0.0, 0.0, 1.0)
    with pytest.raises(ValidationError):
        ManifestObject.model_validate(obj(articulation={"type": "revolute", "axis": [0, 0, 0], "limits": {"lower": 0, "upper": 1}}))


def test_numbers_must_be_numbers() -> None:
    for bad in ("0.5", True, None, [1]):
        with pytest.raises(ValidationError):
            ManifestObject.model_validate(obj(transform={"position": {"x": bad, "y": 0, "z": 0}}))
