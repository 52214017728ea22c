"""Who may open which case: one rule, every route, and every refusal audited."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from audit.models import AuditRecord
from cases.models import BreakGlass, Case, CaseNote
from extensions import db
from tests.cases.conftest import INTAKE
from tests.conftest import Auth

VERIFICATION = {
    "has_seen_documents": "y",
    "has_contacted_references": "y",
    "has_assessed_risk": "y",
    "notes": "checked",
}

# Every route that opens a case's contents: method, path, form.
CASE_ROUTES = [
    ("GET", "/cases/{id}", None),
    ("GET", "/cases/{id}/edit", None),
    ("POST", "/cases/{id}/edit", {**INTAKE, "legal_name": "Overwritten"}),
    ("POST", "/cases/{id}/notes", {"body": "Not my case"}),
    ("POST", "/cases/{id}/stage", {"to_stage": "screening", "reason": "Not my case"}),
    ("POST", "/cases/{id}/verification", VERIFICATION),
    ("POST", "/cases/{id}/verification/confirm", {}),
    ("GET", "/cases/{id}/export", None),
]
# Admin-only routes: refused by role (403) before the case is looked up, so the answer is the
# same whether the case exists or not.
ADMIN_ROUTES = [
    ("GET", "/cases/{id}/manage", None),
    ("POST", "/cases/{id}/manage", {"user_id": "{other}"}),
    ("POST", "/cases/{id}/unassign/{owner}", {}),
    ("POST", "/cases/{id}/break-glass", {"reason": "I want to see it, please"}),
    ("POST", "/cases/{id}/purge", {"confirm_code": "{code}"}),
]


def _call(client, method, path, form, values):
    url = path.format(**values)
    data = {key: value.format(**values) for key, value in (form or {}).items()}
    return client.open(url, method=method, data=data if method == "POST" else None)


def _denials(app, case_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "case.access_denied", AuditRecord.object_id == case_id)
        )


def _snapshot(app, case_id):
    with app.app_context():
        case = db.session.get(Case, case_id)
        notes = db.session.scalar(select(func.count()).select_from(CaseNote))
        return (case.stage, case.updated_at, case.legal_name_enc, case.purged_at, notes)


@pytest.fixture
def owned(app, person):
    """Caseworker A's case, caseworker B, and the values the route table needs."""
    owner = person(Role.CASEWORKER)
    case_id = owner.create_case()
    other = person(Role.CASEWORKER)
    with app.app_context():
        code = db.session.get(Case, case_id).code
    values = {"id": case_id, "owner": str(owner.id), "other": str(other.id), "code": code}
    return owner, other, values


@pytest.mark.parametrize(("method", "path", "form"), CASE_ROUTES)
def test_case_routes_refuse_everyone_but_the_assigned(app, person, owned, method, path, form):
    owner, other, values = owned
    case_id = values["id"]
    before = _snapshot(app, case_id)

    response = _call(other.client, method, path, form, values)
    assert response.status_code == 404
    assert _denials(app, case_id) == 1
    assert _snapshot(app, case_id) == before

    unknown = str(uuid.uuid4())
    response = _call(other.client, method, path, form, {**values, "id": unknown})
    assert response.status_code == 404
    assert _denials(app, unknown) == 1

    finance = person(Role.FINANCE)
    assert _call(finance.client, method, path, form, values).status_code == 403

    admin = person(Role.ADMIN)  # without break-glass, an admin is a stranger to the contents
    assert _call(admin.client, method, path, form, values).status_code == 404
    assert _denials(app, case_id) == 2

    anonymous = app.test_client()
    response = _call(anonymous, method, path, form, values)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert _snapshot(app, case_id) == before

    assert _call(owner.client, method, path, form, values).status_code in (200, 302)


def _page(response):
    """The answer's body without the sign-out form's CSRF token: a signed token carries the
    second it was made, so two answers a second apart differ there and only there."""
    return re.sub(rb'name="csrf_token" value="[^"]+"', b"", response.get_data())


@pytest.mark.parametrize(("method", "path", "form"), ADMIN_ROUTES)
def test_admin_routes_refuse_caseworkers_and_finance(app, person, owned, method, path, form):
    _owner, other, values = owned
    before = _snapshot(app, values["id"])
    existing = _call(other.client, method, path, form, values)
    missing = _call(other.client, method, path, form, {**values, "id": str(uuid.uuid4())})
    assert existing.status_code == missing.status_code == 403
    assert _page(existing) == _page(missing)
    finance = person(Role.FINANCE)
    assert _call(finance.client, method, path, form, values).status_code == 403
    response = _call(app.test_client(), method, path, form, values)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert _snapshot(app, values["id"]) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BreakGlass)) == 0


@pytest.mark.parametrize("path", ["/cases/", "/cases/new"])
def test_finance_and_strangers_see_no_case_pages(app, person, path):
    finance = person(Role.FINANCE)
    assert finance.client.get(path).status_code == 403
    if path == "/cases/new":
        assert finance.client.post(path, data=INTAKE).status_code == 403
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_caseworker_list_shows_only_their_cases(app, person):
    owner = person()
    mine = owner.create_case()
    other = person()
    theirs = other.create_case(legal_name="Someone Else", known_as="", contact="+15550111")
    with app.app_context():
        mine_code = db.session.get(Case, mine).code
        their_code = db.session.get(Case, theirs).code
    page = owner.client.get("/cases/").get_data(as_text=True)
    assert mine_code in page
    assert their_code not in page
    assert INTAKE["legal_name"] not in page  # the list shows nothing identifying
    assert mine_code not in owner.client.get("/cases/?stage=screening").get_data(as_text=True)
    assert mine_code in owner.client.get("/cases/?risk=high").get_data(as_text=True)


def test_admin_overview_has_no_identity_and_break_glass_opens_for_30_minutes(app, person, clock):
    owner = person()
    case_id = owner.create_case()
    admin = person(Role.ADMIN)
    with app.app_context():
        code = db.session.get(Case, case_id).code

    overview = admin.client.get("/cases/")
    assert overview.status_code == 200
    text = overview.get_data(as_text=True)
    assert code in text
    for value in (INTAKE["legal_name"], INTAKE["current_location"], "7700"):
        assert value not in text
    assert admin.client.get(f"/cases/{case_id}").status_code == 404
    manage = admin.client.get(f"/cases/{case_id}/manage").get_data(as_text=True)
    assert INTAKE["legal_name"] not in manage

    short = admin.client.post(f"/cases/{case_id}/break-glass", data={"reason": "need"})
    assert short.status_code == 302
    assert admin.client.get(f"/cases/{case_id}").status_code == 404

    reason = "Partner reports the caseworker is unreachable"
    response = admin.client.post(f"/cases/{case_id}/break-glass", data={"reason": reason})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case_id}")
    page = admin.client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert INTAKE["legal_name"] in page.get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditRecord.action).where(AuditRecord.object_id == case_id)
        ).all()
    assert "case.break_glass" in actions

    notice = owner.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "An admin opened this case through break-glass" in notice
    assert reason in notice

    clock.advance(minutes=14)
    assert admin.client.get(f"/cases/{case_id}").status_code == 200
    clock.advance(minutes=14)
    # A fresh login: the staff idle timeout (15 minutes) is shorter than the window.
    Auth(app, admin.client, clock).login(admin.email)
    assert admin.client.get(f"/cases/{case_id}").status_code == 200
    clock.advance(minutes=2)
    assert admin.client.get(f"/cases/{case_id}").status_code == 404


def test_break_glass_on_a_missing_case_is_404(app, person):
    admin = person(Role.ADMIN)
    response = admin.client.post(
        f"/cases/{uuid.uuid4()}/break-glass", data={"reason": "Looking for a case here"}
    )
    assert response.status_code == 404


def test_unassigned_caseworker_loses_access(app, person):
    owner = person()
    case_id = owner.create_case()
    helper = person()
    admin = person(Role.ADMIN)
    assert (
        admin.client.post(f"/cases/{case_id}/manage", data={"user_id": helper.id}).status_code
        == 302
    )
    assert helper.client.get(f"/cases/{case_id}").status_code == 200
    admin.client.post(f"/cases/{case_id}/unassign/{helper.id}")
    assert helper.client.get(f"/cases/{case_id}").status_code == 404
    admin.client.post(f"/cases/{case_id}/unassign/{owner.id}")  # the last one stays
    assert owner.client.get(f"/cases/{case_id}").status_code == 200
