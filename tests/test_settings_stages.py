"""Stage settings reach the stages through BP_* variables (no Python needed to switch them)."""

from blueprint_pipeline.config import load_settings
from blueprint_pipeline.simready.config import SimreadyConfig


def test_simready_estimator_and_randomisation_from_environment():
    settings = load_settings({"BP_SIMREADY_ESTIMATOR": "gemini", "BP_SIMREADY_DR_MASS_REL": "0.1",
                              "BP_SIMREADY_GEMINI_BASE_URL": "http://127.0.0.1:9"})
    cfg = SimreadyConfig.from_settings(settings)
    assert cfg.estimator == "gemini"
    assert cfg.gemini_base_url == "http://127.0.0.1:9"
    assert cfg.randomization.mass_rel == 0.1
    assert cfg.randomization.friction_rel == 0.15  # untouched default


def test_defaults_are_the_documented_ones():
    cfg = SimreadyConfig.from_settings(load_settings({}))
    assert cfg.estimator == "table"
    assert (cfg.randomization.mass_rel, cfg.randomization.friction_rel,
            cfg.randomization.restitution_rel, cfg.randomization.com_noise_rel) == (0.2, 0.15, 0.3, 0.05)


def test_geniesim_settings_are_known_variables():
    settings = load_settings({"BP_GENIESIM_COMMERCIAL_ONLY": "yes", "BP_GENIESIM_EMBEDDER": "none"})
    assert settings.geniesim_commercial_only is True
