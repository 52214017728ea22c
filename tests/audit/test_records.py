"""What is recorded, what never is, and the admin's audit log page."""

from __future__ import annotations

import re

from sqlalchemy import select

from accounts.models import Role
from audit.models import AuditRecord
from extensions import db
from tests.conftest import PASSWORD, Auth, current_code
from tests.factories import audit_actions, make_user, user_email


def _admin(app, clock):
    client = app.test_client()
    Auth(app, client, clock).login(user_email(app, make_user(app, Role.ADMIN)))
    return client


def test_account_actions_are_recorded_with_no_secret_or_identity(app, clock):
    admin = _admin(app, clock)
    staff_id = make_user(app, Role.CASEWORKER, email="casey.jones@example.org")
    stranger = app.test_client()
    stranger.post("/login", data={"email": "casey.jones@example.org", "password": "wrong!"})
    stranger.post("/login/two-factor", data={"code": "000000"})
    admin.post(
        "/admin/invitations",
        data={"email": "robin.invitee@example.org", "name": "Robin Invitee", "role": "finance"},
    )
    admin.post(f"/admin/users/{staff_id}/role", data={"role": "finance"})
    admin.post(f"/admin/users/{staff_id}/deactivate")
    actions = audit_actions(app)
    for action in (
        "login.succeeded",
        "login.failed",
        "invitation.created",
        "user.role_change_requested",
        "user.deactivated",
    ):
        assert action in actions
    with app.app_context():
        code = current_code(app, "casey.jones@example.org")
        rows = db.session.scalars(select(AuditRecord)).all()
        text = " ".join(f"{row.object_id} {row.details}" for row in rows)
    for secret in (PASSWORD, "wrong!", "casey.jones", "robin.invitee", "Robin Invitee", code):
        assert secret not in text


def test_the_audit_page_lists_records_and_filters_by_action(app, clock):
    admin = _admin(app, clock)
    admin.post(
        "/admin/invitations", data={"email": "n@example.org", "name": "N", "role": "finance"}
    )
    everything = admin.get("/admin/audit").get_data(as_text=True)
    assert "login.succeeded" in everything
    assert "invitation.created" in everything
    filtered = admin.get("/admin/audit?action=login").get_data(as_text=True)
    listed = re.findall(r"<td><code>([a-z_.]+)</code></td>", filtered)
    assert listed == ["login.succeeded"]
    nothing = admin.get("/admin/audit?action=nothing.like.this").get_data(as_text=True)
    assert "No records match." in nothing


def test_the_audit_page_filters_by_object(app, clock):
    admin = _admin(app, clock)
    admin.post(
        "/admin/invitations", data={"email": "n@example.org", "name": "N", "role": "finance"}
    )
    page = admin.get("/admin/audit?object_type=invitation").get_data(as_text=True)
    assert re.findall(r"<td><code>([a-z_.]+)</code></td>", page) == ["invitation.created"]
