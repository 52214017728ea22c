"""Emergency lockdown: every staff session ends, case pages close for everyone until lifted."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import access
from cases import services as case_services
from cases.models import RiskLevel
from extensions import db
from tests.factories import make_user, user_email


def test_lockdown_ends_sessions_and_closes_case_pages_until_lifted(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    admin = person(Role.ADMIN)
    other_admin = person(Role.ADMIN)

    clock.advance(minutes=6)
    admin.client.get("/cases/")  # keep the session alive; re-auth is now stale
    response = admin.client.get("/admin/lockdown/")
    assert response.status_code == 302
    assert "/reauthenticate" in response.headers["Location"]
    response = admin.client.post("/admin/lockdown/")
    assert "/reauthenticate" in response.headers["Location"]
    assert worker.client.get(f"/cases/{case_id}").status_code == 200

    admin.reauthenticate()
    response = admin.client.post("/admin/lockdown/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")

    for someone in (worker, admin, other_admin):  # every session is gone
        response = someone.client.get("/cases/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")

    for someone in (worker, admin, other_admin):
        someone.auth.login(someone.email)
        for path in ("/cases/", f"/cases/{case_id}", f"/cases/{case_id}/edit", "/cases/new"):
            response = someone.client.get(path)
            if path == "/cases/new" and someone is not worker:
                assert response.status_code == 403
                continue
            assert response.status_code == 403, path
            assert "Case records are locked down" in response.get_data(as_text=True)
    response = worker.client.post(f"/cases/{case_id}/notes", data={"body": "During lockdown"})
    assert response.status_code == 403
    glass = other_admin.client.post(
        f"/cases/{case_id}/break-glass", data={"reason": "Need it during the lockdown"}
    )
    assert glass.status_code == 302
    assert other_admin.client.get(f"/cases/{case_id}").status_code == 403

    assert "lift" in admin.client.get("/admin/lockdown/").get_data(as_text=True).lower()
    response = admin.client.post("/admin/lockdown/", data={"action": "lift"})
    assert response.status_code == 302
    assert worker.client.get(f"/cases/{case_id}").status_code == 200
    assert worker.client.get("/cases/").status_code == 200

    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action.like("lockdown.%"))
            .order_by(AuditRecord.id)
        ).all()
    assert [(record.action, record.actor_id) for record in records] == [
        ("lockdown.started", admin.id),
        ("lockdown.lifted", admin.id),
    ]


def test_only_admins_start_a_lockdown(app, person):
    for role in (Role.CASEWORKER, Role.FINANCE):
        someone = person(role)
        assert someone.client.post("/admin/lockdown/").status_code == 403
    response = app.test_client().post("/admin/lockdown/")
    assert response.headers["Location"].startswith("/login")
    worker = person()
    assert worker.client.get("/cases/").status_code == 200


def test_lockdown_closes_the_admin_case_page_too(app, client, auth):
    admin_id = make_user(app, Role.ADMIN)
    worker_id = make_user(app, Role.CASEWORKER)
    with app.app_context():
        admin = db.session.get(User, admin_id)
        worker = db.session.get(User, worker_id)
        case = case_services.create_case(
            worker,
            {"legal_name": "Locked Person"},
            case_services.ClearFields(risk_level=RiskLevel.LOW, region="East"),
        )
        access.start_lockdown(admin)
        db.session.commit()
        case_id = case.id
    auth.login(user_email(app, admin_id))
    response = client.get(f"/cases/{case_id}/manage")
    assert response.status_code == 403
    assert "locked down" in response.get_data(as_text=True)
