"""Export of one case for a partner: behind fresh re-authentication, audited."""

from __future__ import annotations

from sqlalchemy import select

from audit.models import AuditRecord
from extensions import db
from tests.cases.conftest import INTAKE


def _exports(app, case_id):
    with app.app_context():
        return db.session.scalars(
            select(AuditRecord.actor_id).where(
                AuditRecord.action == "case.export", AuditRecord.object_id == case_id
            )
        ).all()


def test_export_asks_for_reauthentication_then_is_audited(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    url = f"/cases/{case_id}/export"

    clock.advance(minutes=6)
    worker.client.get("/cases/")
    response = worker.client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/reauthenticate")
    assert "next=" in response.headers["Location"]
    assert _exports(app, case_id) == []

    bad = worker.client.post("/reauthenticate", data={"password": "wrong", "code": "000000"})
    assert bad.status_code == 200
    assert worker.client.get(url).status_code == 302

    response = worker.reauthenticate()
    assert response.status_code == 302
    page = worker.client.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert INTAKE["legal_name"] in text
    assert INTAKE["current_location"] in text
    assert page.headers["Cache-Control"].startswith("no-store")
    assert _exports(app, case_id) == [worker.id]


def test_reauthentication_returns_to_the_export(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    clock.advance(minutes=6)
    worker.client.get("/cases/")
    location = worker.client.get(f"/cases/{case_id}/export").headers["Location"]
    from tests.conftest import PASSWORD, current_code

    clock.advance(seconds=30)
    response = worker.client.post(
        location, data={"password": PASSWORD, "code": current_code(app, worker.email)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case_id}/export")
