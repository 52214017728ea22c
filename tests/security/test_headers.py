"""Security headers on HTML and JSON responses."""

from __future__ import annotations

import re

import pytest

from accounts.models import Role
from tests.conftest import Auth
from tests.factories import make_user, user_email


def _directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


@pytest.mark.parametrize("path", ["/login", "/healthz"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    directives = _directives(response)
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert any(source.startswith("'nonce-") for source in directives["script-src"])
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("no-referrer", "strict-origin")
    assert "Strict-Transport-Security" not in response.headers  # plain http in testing


def test_the_nonce_is_new_on_every_request_and_matches_the_page(client):
    nonces = []
    for _ in range(2):
        response = client.get("/login")
        (nonce,) = re.findall(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        page = response.get_data(as_text=True)
        for script_nonce in re.findall(r'<script[^>]*nonce="([^"]+)"', page):
            assert script_nonce == nonce
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert len(nonces[0]) >= 16


def test_staff_pages_are_never_cached_and_never_load_stripe(app, client, clock):
    Auth(app, client, clock).login(user_email(app, make_user(app, Role.ADMIN)))
    for path in ("/admin/", "/admin/audit", "/account/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response.headers["Cache-Control"]
        assert "stripe" not in response.headers["Content-Security-Policy"], path


def test_hsts_is_sent_outside_development_and_testing(make_app, database_url):
    """The only other environment is production (an unknown APP_ENV refuses to start)."""
    if database_url.startswith("sqlite"):
        pytest.skip("production refuses SQLite; covered on PostgreSQL")
    app = make_app(
        APP_ENV="production",
        PUBLIC_URL="https://donate.example.org",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",  # rate limits are off in tests
        ALLOW_SOFTWARE_KEYS=True,
    )
    for path in ("/login", "/healthz"):
        hsts = app.test_client().get(path).headers["Strict-Transport-Security"]
        assert "max-age=" in hsts
        assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000


def test_development_sends_no_hsts(make_app):
    response = make_app(APP_ENV="development").test_client().get("/healthz")
    assert "Strict-Transport-Security" not in response.headers
