"""Secret resolution order, TTL cache, Secret Manager handling and error texts."""

from __future__ import annotations

import sys
import types

import pytest

from blueprint_pipeline.config import load_settings
from blueprint_pipeline.errors import DependencyError
from blueprint_pipeline.secrets import resolver
from blueprint_pipeline.secrets.redact import redact
from blueprint_pipeline.secrets.resolver import SecretNotFoundError, clear_cache, get_secret

NAME = "TEST_SERVICE_KEY"


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    clear_cache()
    for var in (NAME, f"{NAME}_FILE", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    yield
    clear_cache()


def settings(**env: str):
    return load_settings({f"BP_{k.upper()}": v for k, v in env.items()})


def test_file_beats_environment_and_is_registered_for_redaction(tmp_path, monkeypatch):
    secret_file = tmp_path / "key"
    secret_file.write_text("from-the-file-0001\n")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret_file))
    monkeypatch.setenv(NAME, "from-the-env-0002")
    assert get_secret(NAME, settings=settings()) == "from-the-file-0001"
    assert redact("x from-the-file-0001 y") == "x *** y"


def test_environment_is_the_last_fallback(monkeypatch):
    monkeypatch.setenv(NAME, "from-the-env-0003")
    assert get_secret(NAME, settings=settings()) == "from-the-env-0003"


def test_not_found_names_the_secret_and_the_sources_tried():
    with pytest.raises(SecretNotFoundError) as info:
        get_secret(NAME, settings=settings())
    text = str(info.value)
    assert NAME in text and f"{NAME}_FILE" in text and "Secret Manager" in text
    assert info.value.category == "dependency"


def test_unreadable_file_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv(f"{NAME}_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv(NAME, "would-be-fallback-0004")
    with pytest.raises(SecretNotFoundError, match=f"{NAME}_FILE"):
        get_secret(NAME, settings=settings())


def test_ttl_cache_picks_up_rotation(tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(resolver, "_clock", lambda: now[0])
    secret_file = tmp_path / "key"
    secret_file.write_text("version-one-0005")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret_file))
    s = settings(secret_ttl_s="300")
    assert get_secret(NAME, settings=s) == "version-one-0005"
    secret_file.write_text("version-two-0006")
    now[0] += 299
    assert get_secret(NAME, settings=s) == "version-one-0005"  # still cached
    now[0] += 2
    assert get_secret(NAME, settings=s) == "version-two-0006"  # rotation picked up


def test_require_manager_without_the_library_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(NAME, "env-value-0007")
    monkeypatch.setitem(sys.modules, "google.cloud.secretmanager", None)  # import fails
    with pytest.raises(DependencyError) as info:
        get_secret(NAME, settings=settings(secrets_require_manager="true"))
    assert "google-cloud-secret-manager" in str(info.value) and "env-value-0007" not in str(info.value)


class _NotFound(Exception):
    pass


def _install_fake_secret_manager(monkeypatch, answers: dict[str, object]) -> list[str]:
    """A stand-in for google-cloud-secret-manager's client (the library is an optional extra)."""
    asked: list[str] = []

    class Client:
        def access_secret_version(self, name: str, timeout: float):
            asked.append(name)
            answer = answers.get(name)
            if isinstance(answer, Exception):
                raise answer
            if answer is None:
                raise _NotFound(name)
            return types.SimpleNamespace(payload=types.SimpleNamespace(data=answer.encode()))

    google = types.ModuleType("google")
    cloud = types.ModuleType("google.cloud")
    api_core = types.ModuleType("google.api_core")
    exceptions = types.ModuleType("google.api_core.exceptions")
    exceptions.NotFound = _NotFound
    secretmanager = types.ModuleType("google.cloud.secretmanager")
    secretmanager.SecretManagerServiceClient = Client
    cloud.secretmanager = secretmanager
    api_core.exceptions = exceptions
    google.cloud, google.api_core = cloud, api_core
    for name, module in {"google": google, "google.cloud": cloud, "google.api_core": api_core,
                         "google.api_core.exceptions": exceptions,
                         "google.cloud.secretmanager": secretmanager}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return asked


def test_secret_manager_comes_first(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj-1")
    monkeypatch.setenv(NAME, "env-value-0008")
    resource = f"projects/proj-1/secrets/{NAME}/versions/latest"
    asked = _install_fake_secret_manager(monkeypatch, {resource: "manager-value-0009"})
    assert get_secret(NAME, settings=settings()) == "manager-value-0009"
    assert asked == [resource]


def test_secret_manager_not_found_falls_through_unless_required(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj-1")
    monkeypatch.setenv(NAME, "env-value-0010")
    _install_fake_secret_manager(monkeypatch, {})
    assert get_secret(NAME, settings=settings()) == "env-value-0010"
    clear_cache()
    with pytest.raises(SecretNotFoundError, match="BP_SECRETS_REQUIRE_MANAGER"):
        get_secret(NAME, settings=settings(secrets_require_manager="yes"))


def test_secret_manager_failure_never_falls_back_to_plaintext(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj-1")
    monkeypatch.setenv(NAME, "env-value-0011")
    resource = f"projects/proj-1/secrets/{NAME}/versions/latest"
    _install_fake_secret_manager(monkeypatch, {resource: PermissionError("denied")})
    with pytest.raises(DependencyError, match="not falling back"):
        get_secret(NAME, settings=settings())


def test_invalid_names_are_refused():
    with pytest.raises(ValueError):
        get_secret("../etc/passwd", settings=settings())
