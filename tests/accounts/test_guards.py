"""Role guards: each role against each protected page."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from accounts.models import Role
from audit.models import AuditRecord
from extensions import db
from tests.conftest import Auth
from tests.factories import make_user, user_email

PAGES = {
    "/admin/": {Role.ADMIN},
    "/admin/audit": {Role.ADMIN},
    "/account/": {Role.ADMIN, Role.CASEWORKER, Role.FINANCE},
}
ROLES = [Role.ADMIN, Role.CASEWORKER, Role.FINANCE, None]


def _expected(page, role):
    if role is None:
        return 302
    return 200 if role in PAGES[page] else 403


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.value if role else "anonymous")
@pytest.mark.parametrize("page", list(PAGES))
def test_each_role_against_each_protected_page(app, client, clock, page, role):
    if role is not None:
        Auth(app, client, clock).login(user_email(app, make_user(app, role)))
    response = client.get(page)
    assert response.status_code == _expected(page, role)
    if role is None:
        assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "action",
    [
        "/admin/invitations",
        "/admin/users/1/vet",
        "/admin/users/1/deactivate",
        "/admin/users/1/role",
        "/admin/users/1/reset",
    ],
)
def test_admin_actions_are_refused_to_other_staff(app, client, clock, action):
    Auth(app, client, clock).login(user_email(app, make_user(app, Role.CASEWORKER)))
    response = client.post(action, data={"email": "x@example.org", "name": "X", "role": "admin"})
    assert response.status_code == 403
    assert client.get("/admin/").status_code == 403


def test_a_refusal_by_role_is_recorded_in_the_audit_log(app, client, clock):
    # Probing pages above one's role shows up for the admins; the case id is not needed for it.
    Auth(app, client, clock).login(user_email(app, make_user(app, Role.CASEWORKER)))
    assert client.post("/cases/c0ffee00-0000-4000-8000-000000000000/purge").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    with app.app_context():
        refusals = db.session.execute(
            select(AuditRecord.object_id, AuditRecord.details)
            .where(AuditRecord.action == "access.role_denied")
            .order_by(AuditRecord.id)
        ).all()
    assert [(row.object_id, json.loads(row.details)) for row in refusals] == [
        ("cases.purge", {"method": "POST"}),
        ("admin.audit_log", {"method": "GET"}),
    ]
