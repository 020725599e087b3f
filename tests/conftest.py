"""Fixtures shared by the test modules: the example manifests, an output folder holding the
episodes stage's inputs (the table-top scene), stage contexts, and settings that ignore the
environment. Test doubles live in `blueprint_pipeline.testing`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

# headless rendering, before any test module imports mujoco (which picks its OpenGL platform then:
# a module importing mujoco first left later renderers without a platform when a subset ran)
os.environ.setdefault("MUJOCO_GL", "egl")

import pytest  # noqa: E402

from blueprint_pipeline.config import Settings, load_settings
from blueprint_pipeline.contract import RunOptions, StageContext

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def examples() -> Path:
    """The folder of the example manifests (kitchen.json, office.json, warehouse.json)."""
    return EXAMPLES


@pytest.fixture(scope="session")
def kitchen(examples: Path) -> Path:
    return examples / "kitchen.json"


@pytest.fixture()
def settings() -> Settings:
    """The documented defaults, whatever BP_* variables the shell running the tests has set."""
    return load_settings({})


@pytest.fixture()
def make_ctx(settings: Settings) -> Callable[..., StageContext]:
    """make_ctx(out, manifest="", settings=None, **run_options) -> a StageContext."""

    def make(out: Path | str, manifest: Path | str = "", settings_: Settings | None = None,
             **options) -> StageContext:
        return StageContext(manifest_url=str(manifest), out_url=str(out), options=RunOptions(**options),
                            settings=settings_ or settings)

    return make


@pytest.fixture()
def tabletop_out(tmp_path: Path) -> Path:
    """An output folder holding the episodes stage's inputs for the table-top scene."""
    from blueprint_pipeline.testing.tabletop import tabletop_scene, write_inputs

    write_inputs(str(tmp_path), *tabletop_scene())
    return tmp_path
