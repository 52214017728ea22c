"""Signing in with password and TOTP, and what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.models import Role
from tests.conftest import PASSWORD, current_code
from tests.factories import audit_actions, make_user, user_email

GENERIC = "Sign-in failed: the email, password or code was not right."


def test_login_with_password_and_code_reaches_the_admin_area(app, client, auth):
    email = user_email(app, make_user(app, Role.ADMIN))
    response = auth.login(email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert client.get("/admin/").status_code == 200
    assert audit_actions(app, "login.") == ["login.succeeded"]


def test_password_alone_does_not_sign_in(app, client):
    email = user_email(app, make_user(app, Role.ADMIN))
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.headers["Location"].startswith("/login/two-factor")
    assert client.get("/admin/").status_code == 302
    assert client.get("/account/").status_code == 302


def test_two_factor_page_without_a_password_step_sends_back_to_login(client):
    response = client.get("/login/two-factor")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def _attempt(client, email, password, code):
    first = client.post("/login", data={"email": email, "password": password})
    second = client.post("/login/two-factor", data={"code": code})
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    return first.headers["Location"], second.status_code, second.headers["Location"], page


def test_wrong_password_unknown_email_and_wrong_code_look_the_same(app, client, clock):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    clock.advance(seconds=30)
    good_code = current_code(app, email)
    wrong_code = f"{(int(good_code) + 1) % 1_000_000:06d}"
    answers = [
        _attempt(client, email, "not the password at all", good_code),
        _attempt(client, "nobody@example.org", PASSWORD, good_code),
        _attempt(client, email, PASSWORD, wrong_code),
    ]
    for first_location, status, location, page in answers:
        assert first_location == "/login/two-factor"
        assert (status, location) == (302, "/login")
        assert GENERIC in page
    assert client.get("/account/").status_code == 302
    assert audit_actions(app, "login.") == ["login.failed"] * 3


def test_replayed_code_is_refused(app, client, auth, clock):
    email = user_email(app, make_user(app, Role.ADMIN))
    code = current_code(app, email, clock.advance(seconds=30))
    assert auth.login(email, code=code).status_code == 302
    auth.logout()
    client.post("/login", data={"email": email, "password": PASSWORD})
    response = client.post("/login/two-factor", data={"code": code}, follow_redirects=True)
    assert GENERIC in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    ("steps_off", "is_accepted"),
    [(-1, True), (1, True), (-2, False), (2, False)],
)
def test_clock_drift_of_one_step_is_accepted_and_two_are_not(
    app, client, auth, clock, steps_off, is_accepted
):
    email = user_email(app, make_user(app, Role.FINANCE))
    moment = clock.advance(minutes=5)
    code = current_code(app, email, moment + timedelta(seconds=30 * steps_off))
    client.post("/login", data={"email": email, "password": PASSWORD})
    client.post("/login/two-factor", data={"code": code})
    assert (client.get("/account/").status_code == 200) is is_accepted


def test_unvetted_account_is_refused_with_a_message(app, client, auth):
    email = user_email(app, make_user(app, Role.CASEWORKER, is_vetted=False))
    response = auth.login(email)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "waiting to be vetted" in page
    assert client.get("/account/").status_code == 302


def test_deactivated_account_is_refused_with_a_message(app, client, auth):
    email = user_email(app, make_user(app, Role.CASEWORKER, is_active=False))
    response = auth.login(email)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "deactivated" in page
    assert client.get("/account/").status_code == 302


def test_a_wrong_password_with_a_right_code_does_not_reveal_the_account_state(app, client):
    email = user_email(app, make_user(app, Role.CASEWORKER, is_vetted=False, is_active=False))
    _, _, _, page = _attempt(client, email, "not the password at all", current_code(app, email))
    assert GENERIC in page
    assert "waiting to be vetted" not in page
    assert "deactivated" not in page


def test_next_parameter_is_followed_only_to_local_paths(app, client, auth, clock):
    email = user_email(app, make_user(app, Role.ADMIN))
    clock.advance(seconds=30)
    client.post(
        "/login?next=//evil.example/",
        data={"email": email, "password": PASSWORD, "next": "https://evil.example/"},
    )
    response = client.post("/login/two-factor", data={"code": current_code(app, email)})
    assert "evil" not in response.headers["Location"]
