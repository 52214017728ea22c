"""Settings: production refuses to start without its secrets; development makes its own."""

from __future__ import annotations

import base64
import json

import pytest

from app import create_app
from config import DEV_SECRETS_FILE, ConfigError, load_config

KEY = base64.b64encode(b"k" * 32).decode()
POSTGRES_URL = "postgresql+psycopg://app@db.internal/app"
SETTINGS = ("SECRET_KEY", "CASE_MASTER_KEY", "BLIND_INDEX_KEY", "STRIPE_WEBHOOK_SECRET")
# What production asks for besides the secrets and the database (tests/test_config_fails_closed.py).
PRODUCTION_EXTRAS = ("RATELIMIT_STORAGE_URI", "PUBLIC_URL", "ALLOW_SOFTWARE_KEYS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (*SETTINGS, *PRODUCTION_EXTRAS, "APP_ENV", "DATABASE_URL", "PKCS11_MODULE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


@pytest.fixture
def development(monkeypatch):
    """APP_ENV unset is production: the development tests say so."""
    monkeypatch.setenv("APP_ENV", "development")


def _production(monkeypatch, **values):
    monkeypatch.setenv("APP_ENV", "production")
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_production_without_anything_names_every_missing_setting(monkeypatch, tmp_path):
    _production(monkeypatch)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    message = str(error.value)
    for name in ("SECRET_KEY", "CASE_MASTER_KEY", "BLIND_INDEX_KEY", "DATABASE_URL"):
        assert name in message
    assert not (tmp_path / DEV_SECRETS_FILE).exists()  # nothing generated in production


REQUIRED = {
    "SECRET_KEY": "a-long-random-production-secret",
    "CASE_MASTER_KEY": KEY,
    "BLIND_INDEX_KEY": KEY,
    "DATABASE_URL": POSTGRES_URL,
}
COMPLETE = {
    **REQUIRED,
    "RATELIMIT_STORAGE_URI": "redis://redis.internal:6379/0",
    "PUBLIC_URL": "https://donate.example.org",
    "ALLOW_SOFTWARE_KEYS": "1",
}


@pytest.mark.parametrize("missing", list(REQUIRED))
def test_production_names_the_one_missing_setting(monkeypatch, tmp_path, missing):
    _production(monkeypatch, **{k: v for k, v in COMPLETE.items() if k != missing})
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    named = str(error.value).split("missing:", 1)[1]
    assert missing in named
    for present in set(REQUIRED) - {missing}:
        assert present not in named


def test_production_refuses_sqlite(monkeypatch, tmp_path):
    _production(monkeypatch, **{**COMPLETE, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config(tmp_path)


def test_production_with_everything_set_starts(monkeypatch, tmp_path):
    _production(monkeypatch, **COMPLETE)
    settings = load_config(tmp_path)
    assert settings["SECRET_KEY"] == COMPLETE["SECRET_KEY"]
    assert settings["SQLALCHEMY_DATABASE_URI"] == POSTGRES_URL
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["STAFF_COOKIE_NAME"].startswith("__Host-")
    assert not (tmp_path / DEV_SECRETS_FILE).exists()


def test_secrets_can_come_from_files(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-mounted-secret\n")
    _production(monkeypatch, **{k: v for k, v in COMPLETE.items() if k != "SECRET_KEY"})
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    assert load_config(tmp_path)["SECRET_KEY"] == "from-a-mounted-secret"


def test_the_app_itself_refuses_to_start_in_production_without_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    _production(monkeypatch, DATABASE_URL=POSTGRES_URL)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        base64.b64encode(b"too short").decode(),
        base64.b64encode(b"x" * 33).decode(),
    ],
)
@pytest.mark.parametrize("environment", ["production", "development"])
def test_a_malformed_master_key_is_refused(monkeypatch, tmp_path, value, environment):
    monkeypatch.setenv("APP_ENV", environment)
    for name, setting in {**COMPLETE, "CASE_MASTER_KEY": value}.items():
        monkeypatch.setenv(name, setting)
    with pytest.raises(ConfigError, match="CASE_MASTER_KEY"):
        load_config(tmp_path)


@pytest.mark.usefixtures("development")
def test_development_generates_secrets_privately_and_reuses_them(tmp_path):
    instance = tmp_path / "instance"
    first = load_config(instance)
    path = instance / DEV_SECRETS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    stored = json.loads(path.read_text())
    for name in SETTINGS:
        assert first[name]
        assert first[name] == stored[name]
    assert len(base64.b64decode(first["CASE_MASTER_KEY"])) == 32
    second = load_config(instance)
    assert {name: second[name] for name in SETTINGS} == {name: first[name] for name in SETTINGS}
    assert first["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


@pytest.mark.usefixtures("development")
def test_environment_settings_win_over_generated_development_secrets(monkeypatch, tmp_path):
    instance = tmp_path / "instance"
    generated = load_config(instance)
    monkeypatch.setenv("SECRET_KEY", "set-by-the-operator")
    monkeypatch.setenv("CASE_MASTER_KEY", KEY)
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    settings = load_config(instance)
    assert settings["SECRET_KEY"] == "set-by-the-operator"
    assert settings["CASE_MASTER_KEY"] == KEY
    assert settings["SQLALCHEMY_DATABASE_URI"] == POSTGRES_URL
    assert settings["BLIND_INDEX_KEY"] == generated["BLIND_INDEX_KEY"]  # still the generated one


@pytest.mark.usefixtures("development")
def test_test_overrides_win_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    settings = load_config(tmp_path, {"SECRET_KEY": "from-the-test"})
    assert settings["SECRET_KEY"] == "from-the-test"
