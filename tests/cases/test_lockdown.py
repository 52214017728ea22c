"""Emergency lockdown: every staff session ends, case pages close for everyone until lifted."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import access
from cases import services as case_services
from cases.models import Case, RiskLevel
from extensions import db
from tests.cases.conftest import INTAKE
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


def test_during_lockdown_every_way_in_is_closed_and_changes_nothing(app, person):
    """The access layer refuses, not each view: the admin's case pages, the money page and
    intake (a caseworker's form post) all answer the locked page and write nothing."""
    worker = person()
    case_id = worker.create_case()
    admin = person(Role.ADMIN)
    with app.app_context():
        access.start_lockdown(db.session.get(User, admin.id))
        db.session.commit()
        cases_before = db.session.scalar(select(func.count()).select_from(Case))
    for someone in (worker, admin):
        someone.auth.login(someone.email)
    for client, path in (
        (admin.client, f"/cases/{case_id}/manage"),
        (worker.client, f"/cases/{case_id}/money"),
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Case records are locked down" in response.get_data(as_text=True)
    intake = worker.client.post("/cases/new", data={**INTAKE, "legal_name": "Someone New"})
    assert intake.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == cases_before
