"""Fixtures: the app on SQLite and on PostgreSQL, a settable clock, clients and a login helper."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from devtools.launch import command_line
from extensions import db
from tests import hsm, postgres

PASSWORD = "correct horse battery staple orbit"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the language catalogues, so the tests read the translations in the tree
    (`make install` does the same for `make run`)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).resolve().parent.parent / "translations").glob(
        "*/LC_MESSAGES/messages.po"
    ):
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalogue)


class Clock:
    """A clock the tests move by hand; the app reads it through app.config["CLOCK"]."""

    def __init__(self) -> None:
        self.current = datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


@pytest.fixture(autouse=True)
def _fresh_translations() -> Iterator[None]:
    """Flask-Babel keeps loaded catalogues on the one `extensions.babel`, by language, for
    every app in the process: a test that brings its own catalogue must not leave it to the
    next test, which reads the shipped ones."""
    yield
    from extensions import babel

    # The Domain is made on first use (inside an app); after a test there may be no app left.
    domain = babel.__dict__.get("domain_instance")
    if domain is not None:
        domain.cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny cost parameters, so tests that hash often stay quick.

    The algorithm and code paths are the real ones; only the work factor is lowered.
    tests/accounts/test_passwords.py checks the production parameters separately.
    """
    from argon2 import PasswordHasher

    from accounts import passwords

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = fast.hash("not a real password: this hash evens out the timing")
    monkeypatch.setattr(passwords, "_hasher", fast)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    server = postgres.start_server()
    if server is None:
        message = "PostgreSQL binaries not found (install the postgresql package)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; REQUIRE_POSTGRES=1 makes this a failure")
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def softhsm_server(tmp_path_factory: pytest.TempPathFactory) -> hsm.SoftHSM:
    return hsm.start(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def softhsm(softhsm_server: hsm.SoftHSM) -> Iterator[hsm.SoftHSM]:
    """The session's SoftHSM2 token, empty of keys for each test."""
    hsm.empty_token(softhsm_server)
    yield softhsm_server
    hsm.empty_token(softhsm_server)


_SCHEMAS_CREATED: set[str] = set()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.url())


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings_for(database_url: str, instance: Path, clock: Clock) -> dict[str, Any]:
    return {
        "APP_ENV": "testing",
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "CASE_MASTER_KEY": base64.b64encode(b"m" * 32).decode(),
        "BLIND_INDEX_KEY": base64.b64encode(b"b" * 32).decode(),
        "STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_CACHE_SECONDS": 0,  # tests/fundraising/test_public_cache.py turns it on
        "CLOCK": clock,
        "SERVER_NAME": "localhost",
        "PROPAGATE_UNEXPECTED": True,
    }


def reset_database() -> None:
    """Empty every table (PostgreSQL keeps its schema across tests; SQLite gets a new file)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        if engine.url.render_as_string() not in _SCHEMAS_CREATED:
            db.drop_all()
            db.create_all()
            _SCHEMAS_CREATED.add(engine.url.render_as_string())
        tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:
        db.create_all()


@pytest.fixture
def make_app(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[Any]:
    """Build an app with extra settings; the database is fresh for each test."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings = settings_for(database_url, tmp_path / "instance", clock)
        settings.update(overrides)
        app = create_app(settings)
        if not built:
            with app.app_context():
                reset_database()
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def current_code(app: Flask, email: str, at: datetime | None = None) -> str:
    """The TOTP code for a user at the app clock's time."""
    from accounts.services import find_user_by_email
    from accounts.totp import totp_secret

    with app.app_context():
        user = find_user_by_email(email)
        assert user is not None
        secret = totp_secret(user)
    moment = at or app.config["CLOCK"]()
    return pyotp.TOTP(secret).at(moment)


class Auth:
    """Signs a test client in and out through the real two-step form."""

    def __init__(self, app: Flask, client: FlaskClient, clock: Clock) -> None:
        self.app = app
        self.client = client
        self.clock = clock

    def login(self, email: str, password: str = PASSWORD, code: str | None = None) -> Any:
        self.clock.advance(seconds=30)  # a fresh TOTP step: each code is accepted once
        self.client.post("/login", data={"email": email, "password": password})
        return self.client.post(
            "/login/two-factor",
            data={"code": code or current_code(self.app, email)},
        )

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture
def auth(app: Flask, client: FlaskClient, clock: Clock) -> Auth:
    return Auth(app, client, clock)


# --- Stripe, offline: a localstripe process started through our wrapper ---------------------

SHIM = Path(__file__).parent / "e2e" / "stripe_shim.js"


def start_localstripe(
    directory: Path,
    *,
    delay_ms: int = 0,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    debits_clear_ms: int | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start localstripe on a free port; return the process and its base URL."""
    port_file = directory / f"localstripe-{os.getpid()}-{time.monotonic_ns()}.port"
    command = command_line(
        port_file,
        delay_ms=delay_ms,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        stripe_js=SHIM,
        debits_clear_ms=debits_clear_ms,
    )
    log_path = port_file.with_suffix(".log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError("localstripe did not start: " + log_path.read_text())
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port_file.read_text().strip()}"
    while True:
        try:
            requests.get(base + "/js.stripe.com/v3/", timeout=1)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return process, base


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, base = start_localstripe(tmp_path_factory.mktemp("localstripe"))
    yield base
    process.terminate()
    process.wait(timeout=10)


def stripe_settings(base: str) -> dict[str, Any]:
    return {
        "STRIPE_SECRET_KEY": "sk_test_localstripe",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_localstripe",
        "STRIPE_API_BASE": base,
        "STRIPE_JS_URL": base + "/js.stripe.com/v3/",
        "STRIPE_TIMEOUT_SECONDS": 10,
    }


@pytest.fixture
def stripe_app(make_app: Any, localstripe: str) -> Flask:
    """The app with the real Stripe gateway pointed at localstripe."""
    return make_app(**stripe_settings(localstripe))


def create_payment_method(base: str, number: str = "4242424242424242") -> str:
    """A PaymentMethod id for a test card, as Stripe.js would create it."""
    response = requests.post(
        base + "/v1/payment_methods",
        headers={"Authorization": "Bearer sk_test_localstripe"},
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["id"])
