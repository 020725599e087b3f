"""Settings from BP_* variables."""

from __future__ import annotations

import pytest
from pydantic import Field

from blueprint_pipeline.config import (
    Settings,
    check_unknown_variables,
    effective_config,
    known_variables,
    load_settings,
)
from blueprint_pipeline.errors import InvalidInputError


def test_defaults_match_the_design():
    s = load_settings({})
    assert (s.rate_limit_per_s, s.breaker_failures, s.breaker_recovery_s, s.retry_max_wait_s,
            s.retry_base_s, s.min_success_rate, s.streaming_threshold_mb, s.object_workers,
            s.episode_deadline_factor, s.secret_ttl_s) == (10.0, 5, 10.0, 10.0, 1.0, 0.5, 10.0, 10,
                                                           10.0, 300.0)
    assert s.log_json is False and s.secrets_require_manager is False


@pytest.mark.parametrize("raw,expected", [("1", True), ("0", False), ("true", True), ("FALSE", False),
                                          ("yes", True), ("no", False)])
def test_booleans(raw, expected):
    assert load_settings({"BP_LOG_JSON": raw}).log_json is expected


def test_unknown_variable_is_named_with_a_hint():
    with pytest.raises(InvalidInputError) as info:
        load_settings({"BP_OBJECT_WORKRES": "3", "HOME": "/root"})
    assert "BP_OBJECT_WORKRES" in str(info.value) and "BP_OBJECT_WORKERS" in str(info.value)
    with pytest.raises(InvalidInputError, match="BP_MAX_TAKS"):
        check_unknown_variables({"BP_MAX_TAKS": "4"})


@pytest.mark.parametrize("var,value", [("BP_MIN_SUCCESS_RATE", "1.5"), ("BP_WORKERS", "0"),
                                       ("BP_RATE_LIMIT_PER_S", "0"), ("BP_LOG_JSON", "maybe"),
                                       ("BP_LOG_LEVEL", "LOUD"), ("BP_BREAKER_FAILURES", "many")])
def test_bad_values_name_the_variable(var, value):
    with pytest.raises(InvalidInputError) as info:
        load_settings({var: value})
    assert var in str(info.value) and value in str(info.value)


def test_rates_below_one_per_second_are_allowed():
    assert load_settings({"BP_RATE_LIMIT_PER_S": "0.2"}).rate_limit_per_s == 0.2


def test_a_subclass_adds_settings_and_their_variables():
    class StageSettings(Settings):
        gemini_model: str = Field("gemini-2.5-flash", description="Model name.")

    assert "BP_GEMINI_MODEL" in known_variables(StageSettings)
    check_unknown_variables({"BP_GEMINI_MODEL": "x"}, StageSettings)


def test_effective_config_masks_secrets():
    s = load_settings({"BP_STORAGE_OPTIONS_JSON": '{"key": "abcd-secret"}'})
    rows = {var: value for var, value, _ in effective_config(s)}
    assert rows["BP_STORAGE_OPTIONS_JSON"] == "***" and rows["BP_WORKERS"] == "2"
    assert rows["BP_SECRETS_REQUIRE_MANAGER"] == "False"
