"""Signing in with password and TOTP, and what is refused."""

from __future__ import annotations

from accounts.models import Role
from tests.conftest import PASSWORD, current_code
from tests.factories import make_user, user_email


def test_login_with_password_and_code_reaches_the_admin_area(app, client, auth):
    email = user_email(app, make_user(app, Role.ADMIN))
    response = auth.login(email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert client.get("/admin/").status_code == 200


def test_password_alone_does_not_sign_in(app, client):
    email = user_email(app, make_user(app, Role.ADMIN))
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.headers["Location"].startswith("/login/two-factor")
    assert client.get("/admin/").status_code == 302


def test_replayed_code_is_refused(app, client, auth, clock):
    email = user_email(app, make_user(app, Role.ADMIN))
    code = current_code(app, email, clock.advance(seconds=30))
    assert auth.login(email, code=code).status_code == 302
    auth.logout()
    client.post("/login", data={"email": email, "password": PASSWORD})
    response = client.post("/login/two-factor", data={"code": code}, follow_redirects=True)
    assert "Sign-in failed" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
