"""The README is a newcomer's page whose generated parts match the code; docs/ holds the rest."""

from __future__ import annotations

import re
from pathlib import Path

from blueprint_pipeline import pipeline
from blueprint_pipeline.config import Settings, effective_config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_is_a_newcomers_page():
    assert len(README.splitlines()) <= 250
    assert "    make demo" in README and "    make test" in README
    for target in re.findall(r"\]\((docs/[^)#]+)", README):  # every page it links to exists
        assert (ROOT / target).is_file(), target


def test_readme_data_flow_is_generated_from_the_stage_list():
    assert pipeline.data_flow_markdown() in README
    for s in pipeline.STAGES:
        assert f"    {s.name}" in pipeline.data_flow_markdown()


def test_configuration_page_is_what_config_show_markdown_prints():
    page = (ROOT / "docs" / "configuration.md").read_text()
    for var, value, description in effective_config(Settings.model_construct()):
        assert f"| `{var}` | {value} | {description} |" in page, var
