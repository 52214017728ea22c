"""Server-side staff sessions: expiry, sign-out, and everything that ends them at once."""

from __future__ import annotations

from accounts.models import Role, StaffSession
from tests.conftest import PASSWORD, Auth
from tests.factories import audit_actions, count_rows, make_user, user_email

NEW_PASSWORD = "violet lantern harbour sixty glide"


def _signed_in(app, clock, email):
    """A fresh client signed in as this user."""
    client = app.test_client()
    Auth(app, client, clock).login(email)
    assert client.get("/account/").status_code == 200
    return client


def _is_signed_in(client):
    return client.get("/account/").status_code == 200


def test_session_cookie_is_random_httponly_strict_and_renewed_at_login(app, client, auth):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    client.post("/login", data={"email": email, "password": PASSWORD})
    pending = client.get_cookie("staff_session")
    auth.login(email)
    active = client.get_cookie("staff_session")
    assert pending is not None
    assert active is not None
    assert active.value != pending.value
    assert len(active.value) >= 22  # at least 128 bits in URL-safe base64
    assert active.http_only
    assert active.same_site == "Strict"


def test_idle_session_expires_after_15_minutes(app, clock):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    client = _signed_in(app, clock, email)
    clock.advance(minutes=14)
    assert _is_signed_in(client)
    clock.advance(minutes=14)
    assert _is_signed_in(client)  # activity keeps it alive
    clock.advance(minutes=15, seconds=1)
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    # The lookup writes nothing; the expired row goes at the next sign-in, anyone's.
    other = user_email(app, make_user(app, Role.FINANCE))
    _signed_in(app, clock, other)
    assert count_rows(app, StaffSession) == 1  # only the new one


def test_session_ends_after_8_hours_even_when_active(app, clock):
    email = user_email(app, make_user(app, Role.FINANCE))
    client = _signed_in(app, clock, email)
    for _ in range(47):
        clock.advance(minutes=10)
        assert _is_signed_in(client)
    clock.advance(minutes=10, seconds=1)  # 8 h and a moment after sign-in
    assert not _is_signed_in(client)


def test_logout_ends_the_session(app, client, auth):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    auth.login(email)
    response = auth.logout()
    assert response.headers["Location"].endswith("/login")
    assert not _is_signed_in(client)
    assert count_rows(app, StaffSession) == 0


def test_sign_out_everywhere_ends_the_other_browsers_too(app, clock):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    laptop = _signed_in(app, clock, email)
    phone = _signed_in(app, clock, email)
    other_user = _signed_in(app, clock, user_email(app, make_user(app, Role.FINANCE)))
    response = laptop.post("/account/sessions/end-all")
    assert response.headers["Location"].endswith("/login")
    assert not _is_signed_in(laptop)
    assert not _is_signed_in(phone)
    assert _is_signed_in(other_user)
    assert "sessions.ended_all" in audit_actions(app)


def test_password_change_ends_every_session_and_the_new_password_works(app, clock):
    user_id = make_user(app, Role.CASEWORKER)
    email = user_email(app, user_id)
    laptop = _signed_in(app, clock, email)
    phone = _signed_in(app, clock, email)
    response = laptop.post(
        "/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not _is_signed_in(laptop)
    assert not _is_signed_in(phone)
    client = app.test_client()
    Auth(app, client, clock).login(email, password=PASSWORD)
    assert not _is_signed_in(client)
    Auth(app, client, clock).login(email, password=NEW_PASSWORD)
    assert _is_signed_in(client)


def test_password_change_with_a_wrong_current_password_changes_nothing(app, clock):
    email = user_email(app, make_user(app, Role.CASEWORKER))
    client = _signed_in(app, clock, email)
    response = client.post(
        "/account/password",
        data={"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)
    assert _is_signed_in(client)


def test_deactivation_by_an_admin_ends_the_users_sessions_at_once(app, clock):
    admin = _signed_in(app, clock, user_email(app, make_user(app, Role.ADMIN)))
    user_id = make_user(app, Role.CASEWORKER)
    email = user_email(app, user_id)
    staff = _signed_in(app, clock, email)
    response = admin.post(f"/admin/users/{user_id}/deactivate")
    assert response.status_code == 302
    assert not _is_signed_in(staff)
    assert not _is_signed_in(_signed_in_or_not(app, clock, email))
    assert "user.deactivated" in audit_actions(app)
    admin.post(f"/admin/users/{user_id}/reactivate")
    assert _is_signed_in(_signed_in_or_not(app, clock, email))


def _signed_in_or_not(app, clock, email):
    client = app.test_client()
    Auth(app, client, clock).login(email)
    return client


def test_an_admin_cannot_deactivate_themselves(app, clock):
    admin_id = make_user(app, Role.ADMIN)
    admin = _signed_in(app, clock, user_email(app, admin_id))
    response = admin.post(f"/admin/users/{admin_id}/deactivate", follow_redirects=True)
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    assert _is_signed_in(admin)


def test_role_change_ends_sessions_and_applies_the_new_role(app, clock):
    admin = _signed_in(app, clock, user_email(app, make_user(app, Role.ADMIN)))
    user_id = make_user(app, Role.CASEWORKER)
    email = user_email(app, user_id)
    staff = _signed_in(app, clock, email)
    response = admin.post(f"/admin/users/{user_id}/role", data={"role": "admin"})
    assert response.status_code == 302
    assert _is_signed_in(staff)  # asked for, not yet approved (tests/accounts/test_two_person.py)
    second = _signed_in(app, clock, user_email(app, make_user(app, Role.ADMIN)))
    assert second.post(f"/admin/users/{user_id}/role/approve").status_code == 302
    assert not _is_signed_in(staff)
    again = _signed_in(app, clock, email)
    assert again.get("/admin/").status_code == 200
    assert "user.role_changed" in audit_actions(app)
