"""Configuration that fails closed: production refuses to start on each unsafe setting, naming
it; APP_ENV unset is production; links use PUBLIC_URL; X-Forwarded-Host only when trusted."""

from __future__ import annotations

import base64
import re

import pytest

from accounts.models import Role
from app import create_app
from config import ConfigError, load_config
from fundraising.stripe_gateway import GatewayUnavailable
from security.urls import external_url
from tests.factories import StaffMember, make_drive

KEY = base64.b64encode(b"k" * 32).decode()
PUBLIC_URL = "https://donate.example.org"
# A fully configured production: PostgreSQL (a URL only; nothing here connects), Redis, an
# https origin, the secrets, and the file key kept on purpose.
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "a-long-random-production-secret",
    "CASE_MASTER_KEY": KEY,
    "BLIND_INDEX_KEY": KEY,
    "DATABASE_URL": "postgresql+psycopg://app@db.internal/app",
    "RATELIMIT_STORAGE_URI": "redis://redis.internal:6379/0",
    "PUBLIC_URL": PUBLIC_URL,
    "ALLOW_SOFTWARE_KEYS": "1",
}
# Everything load_config reads that this file sets, cleared so the runner's own environment
# (a developer's shell, CI) cannot change an answer.
READ = (
    *PRODUCTION,
    "STRIPE_WEBHOOK_SECRET",
    "PKCS11_MODULE",
    "PKCS11_TOKEN_LABEL",
    "PKCS11_PIN",
    "BACKUP_RETENTION_DAYS",
    "KEY_GENERATION_DAYS",
    "TRUSTED_PROXIES",
    "TRUST_PROXY_HOST",
    "DATABASE_POOL_SIZE",
    "PUBLIC_CACHE_SECONDS",
    "JOBS_REDIS_URL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in READ:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def _environment(monkeypatch, **changes: str | None) -> None:
    """The complete production environment with `changes` (None removes a setting)."""
    for name, value in {**PRODUCTION, **changes}.items():
        if value is not None:
            monkeypatch.setenv(name, value)


def _refusal(tmp_path) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    return str(error.value)


def test_a_fully_configured_production_loads(monkeypatch, tmp_path):
    _environment(monkeypatch, PUBLIC_URL=PUBLIC_URL + "/")
    settings = load_config(tmp_path)
    assert settings["APP_ENV"] == "production"
    assert settings["PUBLIC_URL"] == PUBLIC_URL  # the trailing slash dropped: paths join on
    assert settings["ALLOW_SOFTWARE_KEYS"] is True
    assert settings["PKCS11_MODULE"] is None
    assert settings["PKCS11_TOKEN_LABEL"] == "safe-passage"
    assert settings["BACKUP_RETENTION_DAYS"] == 35
    assert settings["KEY_GENERATION_DAYS"] == 30
    assert settings["TRUST_PROXY_HOST"] is False


def test_production_with_a_token_needs_no_software_keys(monkeypatch, tmp_path):
    pin_file = tmp_path / "pin"
    pin_file.write_text("123456\n")
    _environment(monkeypatch, ALLOW_SOFTWARE_KEYS=None, PKCS11_MODULE="/usr/lib/softhsm/x.so")
    monkeypatch.setenv("PKCS11_TOKEN_LABEL", "relocation")
    monkeypatch.setenv("PKCS11_PIN_FILE", str(pin_file))
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "90")
    monkeypatch.setenv("KEY_GENERATION_DAYS", "7")
    settings = load_config(tmp_path)
    assert settings["ALLOW_SOFTWARE_KEYS"] is False
    assert settings["PKCS11_PIN"] == "123456"
    assert settings["PKCS11_TOKEN_LABEL"] == "relocation"
    assert (settings["BACKUP_RETENTION_DAYS"], settings["KEY_GENERATION_DAYS"]) == (90, 7)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"SECRET_KEY": None}, "SECRET_KEY", id="no-secret-key"),
        pytest.param({"CASE_MASTER_KEY": None}, "CASE_MASTER_KEY", id="no-master-key"),
        pytest.param({"BLIND_INDEX_KEY": None}, "BLIND_INDEX_KEY", id="no-blind-index-key"),
        pytest.param({"DATABASE_URL": None}, "DATABASE_URL", id="sqlite-by-default"),
        pytest.param({"DATABASE_URL": "sqlite:////srv/app.db"}, "DATABASE_URL", id="sqlite"),
        pytest.param({"RATELIMIT_STORAGE_URI": None}, "RATELIMIT_STORAGE_URI", id="no-limits"),
        pytest.param(
            {"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI", id="memory-limits"
        ),
        pytest.param({"PUBLIC_URL": None}, "PUBLIC_URL", id="no-public-url"),
        pytest.param({"PUBLIC_URL": "http://donate.example.org"}, "PUBLIC_URL", id="plain-http"),
        pytest.param({"PUBLIC_URL": "donate.example.org"}, "PUBLIC_URL", id="no-scheme"),
        pytest.param({"PUBLIC_URL": "https://"}, "PUBLIC_URL", id="no-host"),
        pytest.param({"PUBLIC_URL": PUBLIC_URL + "/give"}, "PUBLIC_URL", id="a-path"),
        pytest.param({"PUBLIC_URL": PUBLIC_URL + "/?a=b"}, "PUBLIC_URL", id="a-query"),
        pytest.param({"PUBLIC_URL": "https://u:p@donate.example.org"}, "PUBLIC_URL", id="creds"),
        pytest.param({"PUBLIC_URL": "https://donate.example.org:port"}, "PUBLIC_URL", id="port"),
        pytest.param({"ALLOW_SOFTWARE_KEYS": None}, "PKCS11_MODULE", id="no-token"),
        pytest.param({"ALLOW_SOFTWARE_KEYS": "0"}, "ALLOW_SOFTWARE_KEYS", id="no-token-0"),
        pytest.param({"ALLOW_SOFTWARE_KEYS": "maybe"}, "ALLOW_SOFTWARE_KEYS", id="not-a-bool"),
        pytest.param({"PKCS11_MODULE": "/usr/lib/hsm.so"}, "PKCS11_PIN", id="token-no-pin"),
        pytest.param({"BACKUP_RETENTION_DAYS": "0"}, "BACKUP_RETENTION_DAYS", id="retention-0"),
        pytest.param({"BACKUP_RETENTION_DAYS": "5 weeks"}, "BACKUP_RETENTION_DAYS", id="weeks"),
        pytest.param({"KEY_GENERATION_DAYS": "-1"}, "KEY_GENERATION_DAYS", id="generation"),
        pytest.param({"DATABASE_POOL_SIZE": "many"}, "DATABASE_POOL_SIZE", id="pool-size"),
        pytest.param({"PUBLIC_CACHE_SECONDS": "nan"}, "PUBLIC_CACHE_SECONDS", id="cache-nan"),
        pytest.param({"TRUST_PROXY_HOST": "1"}, "TRUST_PROXY_HOST", id="host-without-proxy"),
        pytest.param(
            {"RATELIMIT_STORAGE_URI": "memcached://cache:11211"}, "JOBS_REDIS_URL", id="no-jobs"
        ),
        pytest.param({"JOBS_REDIS_URL": "amqp://mq"}, "JOBS_REDIS_URL", id="jobs-not-redis"),
    ],
)
def test_production_refuses_each_misconfiguration_by_name(monkeypatch, tmp_path, changes, named):
    _environment(monkeypatch, **changes)
    assert named in _refusal(tmp_path)


def test_the_job_queue_is_on_the_rate_limiters_redis_unless_told_otherwise(monkeypatch, tmp_path):
    _environment(monkeypatch)
    assert load_config(tmp_path)["JOBS_REDIS_URL"] == "redis://redis.internal:6379/0"
    _environment(monkeypatch, JOBS_REDIS_URL="redis://jobs.internal:6379/1")
    assert load_config(tmp_path)["JOBS_REDIS_URL"] == "redis://jobs.internal:6379/1"
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.delenv("JOBS_REDIS_URL")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    assert load_config(tmp_path)["JOBS_REDIS_URL"] is None  # jobs run after each commit


def test_every_problem_is_named_in_one_message(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    message = _refusal(tmp_path)
    for named in (
        "SECRET_KEY",
        "CASE_MASTER_KEY",
        "BLIND_INDEX_KEY",
        "DATABASE_URL",
        "PUBLIC_URL",
        "RATELIMIT_STORAGE_URI",
        "PKCS11_MODULE",
        "ALLOW_SOFTWARE_KEYS",
    ):
        assert named in message


def test_app_env_unset_means_production(monkeypatch, tmp_path):
    message = _refusal(tmp_path)  # nothing set at all
    assert "in production" in message
    assert "SECRET_KEY" in message
    assert not list(tmp_path.iterdir())  # no development secrets generated
    _environment(monkeypatch, APP_ENV=None)
    assert load_config(tmp_path)["APP_ENV"] == "production"


@pytest.mark.parametrize("where", ["environment", "override"])
def test_an_unknown_app_env_is_refused(monkeypatch, tmp_path, where):
    overrides = {"APP_ENV": "staging"} if where == "override" else None
    if where == "environment":
        monkeypatch.setenv("APP_ENV", "staging")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path, overrides)
    message = str(error.value)
    for named in ("APP_ENV", "'staging'", "development", "testing", "production"):
        assert named in message


def test_an_unreadable_pin_file_is_refused_by_name(monkeypatch, tmp_path):
    _environment(monkeypatch, PKCS11_MODULE="/usr/lib/hsm.so")
    monkeypatch.setenv("PKCS11_PIN_FILE", str(tmp_path / "absent"))
    assert "PKCS11_PIN_FILE" in _refusal(tmp_path)


def test_development_also_refuses_a_token_without_its_pin(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("PKCS11_MODULE", "/usr/lib/hsm.so")
    message = _refusal(tmp_path)
    assert "PKCS11_PIN" in message
    assert not list(tmp_path.iterdir())  # refused before any secret was generated


def test_the_app_refuses_to_start_through_create_app(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    _environment(monkeypatch, PUBLIC_URL=None, RATELIMIT_STORAGE_URI="memory://")
    with pytest.raises(ConfigError) as error:
        create_app()
    assert "PUBLIC_URL" in str(error.value)
    assert "RATELIMIT_STORAGE_URI" in str(error.value)


def test_the_app_with_app_env_unset_refuses_without_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="in production"):
        create_app()


def test_users_code_is_refused_in_production(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    _environment(monkeypatch)
    app = create_app()
    result = app.test_cli_runner().invoke(args=["users", "code", "--email", "a@example.org"])
    assert result.exit_code != 0
    assert "disabled in production" in result.output
    assert not re.search(r"\b\d{6}\b", result.output)


# --- Links: PUBLIC_URL for every external link; X-Forwarded-Host only when trusted ---------


def _admin(app, clock):
    member = StaffMember(app, clock, Role.ADMIN)
    member.reauthenticate()  # inviting asks for password and code again
    return member.client


def _invitation_link(admin, **request) -> str:
    response = admin.post(
        "/admin/invitations",
        data={"email": "newcomer@example.org", "name": "New Comer", "role": "caseworker"},
        **request,
    )
    assert response.status_code == 200
    match = re.search(r'value="([^"]+/invite/[^"]+)"', response.get_data(as_text=True))
    assert match, "the page shows the one-time link"
    return match.group(1)


def _arriving_as(app, host: str) -> None:
    """Every request reaches the app with this Host header (as a forged one would)."""
    inner = app.wsgi_app

    def other_host(environ, start_response):
        environ["HTTP_HOST"] = host
        return inner(environ, start_response)

    app.wsgi_app = other_host


def test_the_invitation_link_uses_public_url_whatever_the_host(make_app, clock):
    # No SERVER_NAME, as in production: without PUBLIC_URL the link would follow the Host.
    app = make_app(PUBLIC_URL=PUBLIC_URL, SERVER_NAME=None)
    admin = _admin(app, clock)
    _arriving_as(app, "attacker.example")
    link = _invitation_link(admin)
    assert link.startswith(PUBLIC_URL + "/invite/")


def test_without_public_url_the_host_would_choose_the_link(make_app, clock):
    """The control for the test above: the forged Host does reach the link without it."""
    app = make_app(SERVER_NAME=None)
    admin = _admin(app, clock)
    _arriving_as(app, "attacker.example")
    assert _invitation_link(admin).startswith("http://attacker.example/invite/")


@pytest.mark.parametrize(("trusted", "host"), [(False, "localhost"), (True, "proxy.example")])
def test_x_forwarded_host_is_ignored_unless_trusted(make_app, clock, trusted, host):
    app = make_app(SERVER_NAME=None, TRUSTED_PROXIES=1, TRUST_PROXY_HOST=trusted)
    admin = _admin(app, clock)
    link = _invitation_link(admin, headers={"X-Forwarded-Host": "proxy.example"})
    assert link.startswith(f"http://{host}/invite/")


def test_public_url_wins_over_a_trusted_forwarded_host(make_app, clock):
    app = make_app(
        PUBLIC_URL=PUBLIC_URL, SERVER_NAME=None, TRUSTED_PROXIES=1, TRUST_PROXY_HOST=True
    )
    admin = _admin(app, clock)
    link = _invitation_link(admin, headers={"X-Forwarded-Host": "proxy.example"})
    assert link.startswith(PUBLIC_URL + "/invite/")


class RecordingStripe:
    """A gateway that keeps what the donate view asked for and answers that Stripe is down."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def create_payment(self, **payment: object) -> None:
        self.calls.append(payment)
        raise GatewayUnavailable("not reached")


def test_the_stripe_return_url_uses_public_url(make_app):
    stripe = RecordingStripe()
    app = make_app(PUBLIC_URL=PUBLIC_URL, SERVER_NAME=None, STRIPE_GATEWAY=stripe)
    make_drive(app)
    app.test_client().post(
        "/drives/relocation/donate",
        data={"amount": "25.00", "payment_method": "pm_card_visa"},
        headers={"Host": "attacker.example"},
    )
    assert [call["return_url"] for call in stripe.calls] == [
        PUBLIC_URL + "/drives/relocation/thanks"
    ]


def test_external_url_needs_no_request(make_app):
    """A command line (security-event emails from the CLI) has no request to take a host from."""
    app = make_app(PUBLIC_URL=PUBLIC_URL, SERVER_NAME=None)
    with app.app_context():
        assert external_url("admin.security_events") == PUBLIC_URL + "/admin/security"
