"""Gemini estimator against a local HTTP server in the service's REST shape (no internet)."""

from __future__ import annotations

import json
import uuid

import pytest
from test_simready import make_obj, make_scene

from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.scene.records import ManifestPhysics
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.testing.fake_gemini import FakeGemini
from blueprint_pipeline.simready.gemini import EstimateRejected, GeminiEstimator, parse_answer
from blueprint_pipeline.simready.records import ValueSource
from blueprint_pipeline.simready.stage import estimate_scene

MUG = {"material": "ceramic", "mass_kg": 0.35, "static_friction": 0.7, "dynamic_friction": 0.5, "restitution": 0.2}


def policy(**kw) -> CallPolicy:
    # A generous deadline: a loaded test machine must not turn a slow answer into a fallback.
    args = {"rate_per_s": 1000.0, "failure_threshold": 1000, "base_delay_s": 0.01, "max_delay_s": 0.02,
            "deadline_s": 10.0}
    args.update(kw)
    return CallPolicy(f"gemini-test-{uuid.uuid4().hex}", **args)


def estimator(server: FakeGemini, **kw) -> GeminiEstimator:
    cfg = SimreadyConfig(estimator="gemini", gemini_base_url=server.base_url, workers=kw.pop("workers", 4))
    return GeminiEstimator(cfg, policy=kw.pop("policy", None) or policy(), api_key=kw.pop("api_key", "test-key"))


def run(server: FakeGemini, objects, **kw):
    est = estimator(server, **kw)
    try:
        return estimate_scene(make_scene(objects), est.config, estimator=est)
    finally:
        est.close()


def test_llm_values_are_used_and_recorded_as_llm():
    with FakeGemini(answers={"mug": MUG}) as server:
        physics, summary = run(server, [make_obj("mug", (0.08, 0.08, 0.1))])
    p = physics.objects["mug"]
    assert p.mass_kg == 0.35 and p.sources["mass_kg"] is ValueSource.LLM
    assert p.static_friction == 0.7 and p.sources["static_friction"] is ValueSource.LLM
    assert p.material == "ceramic" and p.sources["material"] is ValueSource.LLM
    assert p.sources["inertia_diag_kg_m2"] is ValueSource.DERIVED
    assert physics.estimator == "gemini" and summary["llm_objects"] == 1 and summary["table_fallbacks"] == 0


def test_manifest_values_beat_the_llm():
    obj = make_obj("mug", (0.08, 0.08, 0.1), physics=ManifestPhysics(mass_kg=0.5))
    with FakeGemini(answers={"mug": MUG}) as server:
        physics, _ = run(server, [obj])
    p = physics.objects["mug"]
    assert p.mass_kg == 0.5 and p.sources["mass_kg"] is ValueSource.MANIFEST
    assert p.static_friction == 0.7 and p.sources["static_friction"] is ValueSource.LLM


def test_each_failure_falls_back_to_the_table_in_input_order():
    answers = {
        "mug": MUG,
        "book": "this is not json",
        "bottle": {**MUG, "mass_kg": -3.0},
        "apple": '{"material": "fruit", "mass_kg": NaN, "static_friction": 0.5, "dynamic_friction": 0.4, "restitution": 0.2}',
        "bowl": 400,
        "plate": 503,
        "cup": {**MUG, "static_friction": 50.0, "dynamic_friction": 0.5},
    }
    cats = ["mug", "book", "bottle", "apple", "bowl", "plate", "cup"]
    sizes = {"book": (0.16, 0.24, 0.03), "apple": (0.08, 0.08, 0.08), "plate": (0.26, 0.26, 0.02)}
    objs = [make_obj(c, sizes.get(c, (0.08, 0.08, 0.1))) for c in cats]
    with FakeGemini(answers=answers) as server:
        physics, summary = run(server, objs, policy=policy(deadline_s=3.0))  # the 503s retry until then
        retried_503 = server.calls_by_category["plate"]
        tried_400 = server.calls_by_category["bowl"]
    assert list(physics.objects) == cats  # input order
    notes = {k: " ".join(v.notes) for k, v in physics.objects.items()}
    assert physics.objects["mug"].sources["mass_kg"] is ValueSource.LLM
    assert "answer is not JSON" in notes["book"]
    assert "llm[bottle].mass_kg: must be positive, got -3" in notes["bottle"]
    assert "must be a finite number" in notes["apple"]
    assert "HTTP 400" in notes["bowl"] and tried_400 == 1  # a 4xx is not retried
    assert "gemini estimate failed" in notes["plate"] and retried_503 > 1  # a 503 is retried
    for k in ("book", "bottle", "apple", "bowl", "plate"):
        assert physics.objects[k].sources["mass_kg"] is ValueSource.TABLE, k
        assert "table values used" in notes[k]
    # Out of range but finite: clamped, still the LLM's.
    cup = physics.objects["cup"]
    assert cup.static_friction == 2.0 and cup.sources["static_friction"] is ValueSource.LLM
    assert "llm[cup].static_friction: 50 is outside [0, 2]; clamped to 2" in notes["cup"]
    assert summary["table_fallbacks"] == 5


def test_wrong_key_is_not_retried_and_never_logged(caplog):
    with FakeGemini(answers={"mug": MUG}, api_key="right") as server:
        physics, _ = run(server, [make_obj("mug", (0.08, 0.08, 0.1))], api_key="wrong-secret-value")
        assert sum(server.calls_by_category.values()) == 0 and len(server.arrivals) == 1
    p = physics.objects["mug"]
    assert p.sources["mass_kg"] is ValueSource.TABLE and "HTTP 403" in " ".join(p.notes)
    assert "wrong-secret-value" not in caplog.text and "wrong-secret-value" not in p.model_dump_json()


def test_open_breaker_falls_back_without_calling():
    with FakeGemini(answers={"mug": 503}) as server:
        objs = [make_obj("mug", (0.08, 0.08, 0.1), oid=f"m{i}") for i in range(6)]
        physics, summary = run(server, objs, workers=1, policy=policy(failure_threshold=2, recovery_s=60.0))
        calls = len(server.arrivals)
    assert summary["table_fallbacks"] == 6
    assert calls <= 3  # after two failures the breaker stops further calls
    assert any("CircuitOpen" in " ".join(p.notes) for p in physics.objects.values())


def test_api_key_comes_from_the_secrets_resolver(monkeypatch):
    from blueprint_pipeline.secrets import resolver

    monkeypatch.setenv("GEMINI_API_KEY", "key-from-env")
    resolver.clear_cache()
    with FakeGemini(answers={"mug": MUG}, api_key="key-from-env") as server:
        cfg = SimreadyConfig(estimator="gemini", gemini_base_url=server.base_url, workers=2)
        est = GeminiEstimator(cfg, policy=policy())
        try:
            physics, _ = estimate_scene(make_scene([make_obj("mug", (0.08, 0.08, 0.1))]), cfg, estimator=est)
        finally:
            est.close()
    assert physics.objects["mug"].sources["mass_kg"] is ValueSource.LLM
    resolver.clear_cache()


def test_missing_api_key_is_a_clear_dependency_error(monkeypatch):
    from blueprint_pipeline.errors import DependencyError
    from blueprint_pipeline.secrets import resolver

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY_FILE", raising=False)
    resolver.clear_cache()
    with pytest.raises(DependencyError, match="GEMINI_API_KEY"):
        GeminiEstimator(SimreadyConfig(estimator="gemini"), policy=policy())


def test_many_objects_on_workers_keep_order_and_respect_the_rate_limit():
    import time

    from blueprint_pipeline.testing.rates import max_in_window
    from blueprint_pipeline.simready.gemini import gemini_policy

    p = gemini_policy(20.0, name=f"gemini-test-{uuid.uuid4().hex}", failure_threshold=1000)
    permits: list[float] = []
    acquire = p.limiter.acquire

    def recorded(*a, **kw):
        acquire(*a, **kw)
        permits.append(time.monotonic())

    p.limiter.acquire = recorded
    with FakeGemini(delay_s=0.05, answers={"mug": MUG}) as server:
        objs = [make_obj("mug", (0.08, 0.08, 0.1), oid=f"m{i:03d}") for i in range(40)]
        physics, _ = run(server, objs, workers=10, policy=p)
        arrived = len(server.arrivals)
    assert list(physics.objects) == [f"m{i:03d}" for i in range(40)]
    assert all(p.sources["mass_kg"] is ValueSource.LLM for p in physics.objects.values())
    assert arrived == len(permits) == 40
    # 10 workers against a 50 ms service could send 200/s; the limiter lets 20/s through.
    assert max_in_window(permits, 1.0) <= 20


def test_parse_answer_shapes():
    body = {"candidates": [{"content": {"parts": [{"text": '```json\n{"mass_kg": 1}\n```'}]}}]}
    assert parse_answer(body) == {"mass_kg": 1}
    with pytest.raises(EstimateRejected, match="no candidates"):
        parse_answer({"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(EstimateRejected, match="not a JSON object"):
        parse_answer({"candidates": [{"content": {"parts": [{"text": "[1, 2]"}]}}]})


def test_journal_resumes_answered_objects_and_asks_again_for_failed_ones(tmp_path):
    journal = str(tmp_path / "gemini.jsonl")
    objs = [make_obj("mug", (0.08, 0.08, 0.1), oid=f"m{i}") for i in range(3)] + \
           [make_obj("bowl", (0.16, 0.16, 0.07), oid=f"b{i}") for i in range(2)]
    with FakeGemini(answers={"mug": MUG, "bowl": 400}) as server:
        est = estimator(server)
        try:
            first, s1 = estimate_scene(make_scene(objs), est.config, estimator=est, journal_url=journal)
        finally:
            est.close()
    assert s1["llm_objects"] == 3 and s1["table_fallbacks"] == 2
    with FakeGemini(answers={"mug": MUG, "bowl": {**MUG, "material": "ceramic", "mass_kg": 0.4}}) as server:
        est = estimator(server)
        try:
            second, s2 = estimate_scene(make_scene(objs), est.config, estimator=est, journal_url=journal)
        finally:
            est.close()
        asked = dict(server.calls_by_category)
    assert asked == {"bowl": 2}  # the mugs came from the journal
    assert s2["resumed_from_journal"] == 3 and s2["table_fallbacks"] == 0
    assert second.objects["m0"] == first.objects["m0"]
    assert second.objects["b0"].mass_kg == 0.4 and second.objects["b0"].sources["mass_kg"] is ValueSource.LLM


def test_requests_are_paced_below_the_configured_limit():
    from blueprint_pipeline.simready.gemini import RATE_MARGIN, gemini_policy

    p = gemini_policy(10.0, name=f"gemini-test-{uuid.uuid4().hex}")
    assert p.limiter.rate_per_s == pytest.approx(10.0 * RATE_MARGIN) and RATE_MARGIN < 1


def test_a_key_echoed_in_a_successful_answer_is_stored_nowhere(tmp_path, monkeypatch, caplog):
    """The service answers 200 with the API key inside its text fields (the material name, which
    an unknown material copies into the notes; an extra field; a number field, which rejects
    the answer): no file of the run (physics.json, markers, the journal) and no log line holds it."""
    import logging
    from pathlib import Path

    from blueprint_pipeline.config import load_settings
    from blueprint_pipeline.contract import RunOptions, StageContext
    from blueprint_pipeline.runner import run_pipeline
    from blueprint_pipeline.secrets import resolver

    key = f"AIzaSy-echo-{uuid.uuid4().hex}"
    monkeypatch.setenv("GEMINI_API_KEY", key)
    resolver.clear_cache()
    echo = {**MUG, "material": f"plastic {key}", "explanation": f"estimated for key {key}"}
    examples = Path(__file__).resolve().parent.parent / "examples"
    out = tmp_path / "out"
    caplog.set_level(logging.DEBUG)
    try:
        with FakeGemini(api_key=key, default_answer=echo, answers={"mug": {**MUG, "mass_kg": key}}) as server:
            settings = load_settings({"BP_SIMREADY_ESTIMATOR": "gemini", "BP_SIMREADY_GEMINI_BASE_URL": server.base_url,
                                      "BP_RATE_LIMIT_PER_S": "1000"})
            ctx = StageContext(manifest_url=str(examples / "kitchen.json"), out_url=str(out),
                               options=RunOptions(), settings=settings)
            run_pipeline(ctx, only="scene")
            run_pipeline(ctx, only="simready")
            answered = sum(server.calls_by_category.values())
    finally:
        resolver.clear_cache()
    # A piece of the key: a message that cuts a long value short must not leak its start either.
    piece = key[len("AIzaSy-echo-"):][:16]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(".journal" in p.parts for p in files)  # the journal is among the files checked
    leaks = [str(p.relative_to(out)) for p in files if piece.encode() in p.read_bytes()]
    assert leaks == []
    assert piece not in caplog.text
    physics = json.loads((out / "simready" / "physics.json").read_text())
    notes = [n for p in physics["objects"].values() for n in p["notes"]]
    assert answered > 1 and any("LLM material 'plastic ***'" in n for n in notes)  # the echo did arrive
