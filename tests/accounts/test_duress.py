"""Duress: a staff member locks their own account and ends every session at once."""

from __future__ import annotations

from accounts.models import Role
from tests.conftest import Auth
from tests.factories import make_user, user_email


def test_duress_ends_every_session_and_blocks_sign_in_until_an_admin_unlocks(app, clock):
    worker_id = make_user(app, Role.CASEWORKER)
    worker_email = user_email(app, worker_id)
    phone, laptop, admin = app.test_client(), app.test_client(), app.test_client()
    Auth(app, phone, clock).login(worker_email)
    Auth(app, laptop, clock).login(worker_email)
    assert laptop.get("/account/").status_code == 200

    response = phone.post("/account/duress")
    assert response.headers["Location"].endswith("/login")
    assert laptop.get("/account/").status_code == 302  # the other device is signed out too
    refused = Auth(app, laptop, clock).login(worker_email)
    assert refused.headers["Location"].endswith("/login")
    assert laptop.get("/account/").status_code == 302

    Auth(app, admin, clock).login(user_email(app, make_user(app, Role.ADMIN)))
    admin.post(f"/admin/users/{worker_id}/unlock")
    Auth(app, laptop, clock).login(worker_email)
    assert laptop.get("/account/").status_code == 200
