"""Instruction phrasings from an LLM (sim/phrasings.py), against a local server in Gemini's REST shape."""

from __future__ import annotations

import json
import uuid

import pytest

from blueprint_pipeline.config import load_settings
from blueprint_pipeline.secrets import resolver
from blueprint_pipeline.sim import language, phrasings
from blueprint_pipeline.sim import scenes
from blueprint_pipeline.sim import stage as episodes_stage
from blueprint_pipeline.sim.episode_io import load_episode
from blueprint_pipeline.testing.fake_gemini import FakeGemini

PREFIXES = ("please", "now", "carefully", "gently", "slowly", "quickly", "next", "then")
INVALID = ["{target} 42", "Put the {target} on the {goal} {goal}", "open the {lid}", "{target", "do {target:>9}"]


def answers() -> dict[str, dict]:
    """Per family: eight valid phrasings (a prefix before each template) and five invalid ones."""
    out = {}
    for fam, templates in language.TEMPLATES.items():
        valid = [f"{PREFIXES[i]} {templates[i % len(templates)]}" for i in range(len(PREFIXES))]
        out[fam] = {"phrasings": valid + INVALID}
    return out


def test_every_family_has_a_meaning_and_a_prompt_naming_its_placeholders():
    assert set(phrasings.MEANING) == set(language.TEMPLATES)
    for fam in language.TEMPLATES:
        required, allowed = phrasings.rules(fam)
        assert "target" in required and required <= allowed
        text = phrasings.prompt(fam, 5)
        assert f"Task family: {fam}\n" in text and all(f"{{{n}}}" in text for n in allowed)


@pytest.mark.parametrize(("text", "family", "expected"), [
    ("Shift the {target} onto the {goal}.", "pick_place", ("shift the {target} onto the {goal}", None)),
    ("shift the {target} somewhere", "pick_place", (None, "missing placeholder")),
    ("shift the {target} {direction} onto the {goal}", "pick_place", (None, "unknown placeholder")),
    ("shift the {target} {direction}", "pick_place_same", ("shift the {target} {direction}", None)),
    ("put the {target} next to the {target}", "stack", (None, "missing placeholder")),
    ("put the {target} on the {goal} and the {goal}", "stack", (None, "repeated placeholder")),
    ("open the {target!r}", "open_drawer", (None, "bad placeholder")),
    ("open the {0}", "open_drawer", (None, "bad placeholder")),
    ("open the {target", "open_drawer", (None, "bad placeholder")),
    ("open the {target} 3 cm", "open_drawer", (None, "characters other than letters")),
    ("open {target}", "open_drawer", (None, "length")),
    ("open the {target}", "open_drawer", (None, "repeat")),
    (42, "open_drawer", (None, "not a string")),
])
def test_a_phrasing_is_kept_only_with_its_familys_placeholders_and_plain_words(text, family, expected):
    got = phrasings.check(text, family)
    assert (got[0], got[1] and got[1].split(" (")[0]) == expected


def test_a_failed_call_leaves_the_family_its_templates_with_the_reason():
    class Down:
        def generate_json(self, prompt, temperature=0.0):
            raise ConnectionError("service unavailable")

    entry = phrasings.ask(Down(), "stack", 5)
    assert entry["phrasings"] == [] and "ConnectionError" in entry["failed"]


def test_instructions_draw_from_the_templates_and_the_llm_phrasings():
    from test_language import _renamed, _sim

    from blueprint_pipeline.testing.tabletop import tabletop_scene

    scene, physics, config = tabletop_scene()
    sim = _sim(_renamed(scene, {"box_target": ("Tea box", "")}), physics, config)
    task = config.tasks[0]
    fam = language.family(sim, task)
    extra = ("please {target} goes onto the {goal}",) if "goal" in phrasings.rules(fam)[0] else ("please move the {target} {direction}",)
    n = len(language.TEMPLATES[fam]) + 1
    with_extra = {language.instruction(sim, task, i, 0, slot=i, extra=extra) for i in range(n)}
    without = [language.instruction(sim, task, i, 0, slot=i) for i in range(n)]
    assert len(with_extra) == n and sum(t.startswith("please") for t in with_extra) == 1  # each slot its own
    assert all("{" not in t and "tea box" in t for t in with_extra)
    assert without == [language.instruction(sim, task, i, 0, slot=i, extra=()) for i in range(n)]  # none: as before


@pytest.fixture()
def gemini_key(monkeypatch):
    key = f"test-key-{uuid.uuid4().hex}"
    monkeypatch.setenv("GEMINI_API_KEY", key)
    resolver.clear_cache()
    yield key
    resolver.clear_cache()


def _settings(server: FakeGemini, **extra):
    return load_settings({"BP_INSTRUCTION_PHRASINGS": "gemini", "BP_SIMREADY_GEMINI_BASE_URL": server.base_url,
                          "BP_RATE_LIMIT_PER_S": "1000", "BP_INSTRUCTION_PHRASINGS_PER_FAMILY": "8", **extra})


def test_the_stage_asks_once_per_family_records_reuses_and_fills_the_phrasings(tabletop_out, make_ctx, gemini_key):
    out = tabletop_out
    with FakeGemini(api_key=gemini_key, answers=answers()) as server:
        settings = _settings(server)
        episodes_stage.run(make_ctx(out, settings_=settings, episodes=2, workers=2, seed=3))
        asked = dict(server.calls_by_category)
        summary = json.loads((out / "episodes/summary.json").read_text())
        record = json.loads((out / "episodes/phrasings.json").read_text())
        # a rerun reuses the recorded phrasings and every episode: no call, no simulation
        episodes_stage.run(make_ctx(out, settings_=settings, episodes=2, workers=2, seed=3))
        assert dict(server.calls_by_category) == asked
        rerun = json.loads((out / "episodes/summary.json").read_text())
        # --force asks again
        forced = make_ctx(out, settings_=settings, episodes=2, workers=2, seed=3)
        forced.force = True
        episodes_stage.run(forced)
        assert sum(server.calls_by_category.values()) == 2 * sum(asked.values())
    (fam,) = asked
    assert asked[fam] == 1
    info = summary["instructions"]
    assert info["source"] == "gemini" and info["families"][fam] == {
        "templates": len(language.TEMPLATES[fam]), "phrasings": 8, "rejected": len(INVALID), "reused": False}
    assert record["families"][fam]["phrasings"] == answers()[fam]["phrasings"][:8]
    assert rerun["resumed_from_journal"] == 2 and rerun["instructions"]["families"][fam]["reused"] is True
    result = json.loads(next((out / "episodes/results").iterdir()).read_text())
    assert result["item"]["phrasings"] == record["families"][fam]["phrasings"]  # part of the result's key
    sim, task = scenes.sim_for(str(out), "franka", "pick_place_box_target")
    for path in sorted((out / "episodes/data").iterdir()):
        rec = load_episode(str(path))
        slot = rec.episode_index  # one task: the episode's rank among its task's episodes is its index
        assert rec.task_description == language.instruction(sim, task, rec.episode_index, 3, slot,
                                                            tuple(record["families"][fam]["phrasings"]))


def test_back_to_templates_the_recorded_phrasings_are_removed(tabletop_out, make_ctx, gemini_key):
    with FakeGemini(api_key=gemini_key, answers=answers()) as server:
        episodes_stage.run(make_ctx(tabletop_out, settings_=_settings(server), episodes=1, workers=1))
    assert (tabletop_out / "episodes/phrasings.json").exists()
    episodes_stage.run(make_ctx(tabletop_out, settings_=load_settings({}), episodes=1, workers=1))
    assert not (tabletop_out / "episodes/phrasings.json").exists()
    summary = json.loads((tabletop_out / "episodes/summary.json").read_text())
    assert summary["instructions"] == {"source": "templates"}


def test_without_a_key_the_stage_fails_before_any_episode(tabletop_out, make_ctx, monkeypatch):
    from blueprint_pipeline.secrets.resolver import SecretNotFoundError

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY_FILE", raising=False)
    resolver.clear_cache()
    with FakeGemini() as server, pytest.raises(SecretNotFoundError, match="GEMINI_API_KEY"):
        episodes_stage.run(make_ctx(tabletop_out, settings_=_settings(server), episodes=1, workers=1))
    assert not (tabletop_out / "episodes").exists() or not any((tabletop_out / "episodes").rglob("*"))
