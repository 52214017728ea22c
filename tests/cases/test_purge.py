"""Retention purge and emergency purge: crypto-shredding leaves only a tombstone."""

from __future__ import annotations

from sqlalchemy import func, select

from accounts.models import Role
from audit.models import AuditRecord
from cases import encryption
from cases.models import (
    IDENTITY_FIELDS,
    BlindIndexEntry,
    BreakGlass,
    Case,
    CaseKey,
    CaseNote,
    Stage,
    StageChange,
    Verification,
)
from extensions import db
from tests.cases.conftest import INTAKE
from tests.cases.test_encryption import database_bytes


def _secret_bytes(app, case_id):
    """Every ciphertext and the wrapped key of a case, as stored."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        blobs = [getattr(case, f"{field}_enc") for field in IDENTITY_FIELDS]
        blobs.append(db.session.get(CaseKey, case_id).wrapped_key)
        blobs += db.session.scalars(
            select(CaseNote.body_enc).where(CaseNote.case_id == case_id)
        ).all()
        blobs += db.session.scalars(
            select(StageChange.reason_enc).where(StageChange.case_id == case_id)
        ).all()
    return [blob for blob in blobs if blob]


def _assert_shredded(app, case_id):
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.purged_at is not None
        assert all(getattr(case, f"{field}_enc") is None for field in IDENTITY_FIELDS)
        for keyed in (CaseKey, Verification):
            assert db.session.get(keyed, case_id) is None
        for model in (CaseNote, BlindIndexEntry, BreakGlass):
            count = select(func.count()).select_from(model).where(model.case_id == case_id)
            assert db.session.scalar(count) == 0
        reasons = db.session.scalars(
            select(StageChange.reason_enc).where(StageChange.case_id == case_id)
        ).all()
        assert reasons
        assert all(reason is None for reason in reasons)
        # The tombstone: code, stage and dates stay for the books.
        assert case.code.startswith("RC-")
        assert case.created_at is not None
        return case.stage, case.closed_at


def _close(worker, case_id, outcome="withdrawn"):
    response = worker.client.post(
        f"/cases/{case_id}/stage",
        data={"to_stage": "closed", "outcome": outcome, "reason": "Closed by test"},
    )
    assert response.status_code == 302


def test_purge_expired_removes_exactly_the_due_cases(request, app, person, clock, runner):
    worker = person()
    due = worker.create_case()
    worker.client.post(f"/cases/{due}/notes", data={"body": "Note on the purged person"})
    worker.client.post(
        f"/cases/{due}/verification",
        data={"has_seen_documents": "y", "has_assessed_risk": "y", "notes": "seen"},
    )
    _close(worker, due)
    closed_at = clock()
    secrets = _secret_bytes(app, due)

    clock.advance(days=100)
    worker.auth.login(worker.email)
    later = worker.create_case(legal_name="Later Person", known_as="", contact="+15550222")
    _close(worker, later, "declined")
    open_case = worker.create_case(legal_name="Open Person", known_as="", contact="+15550333")

    clock.advance(days=79, hours=23)  # one hour before the first case is due
    assert runner.invoke(args=["cases", "purge-expired"]).output.strip() == "Purged 0 case(s)."
    clock.advance(hours=2)
    result = runner.invoke(args=["cases", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Purged 1 case(s)."

    assert _assert_shredded(app, due) == (Stage.CLOSED, closed_at)
    with app.app_context():
        for case_id, name in ((later, "Later Person"), (open_case, "Open Person")):
            case = db.session.get(Case, case_id)
            assert case.purged_at is None
            assert encryption.read_identity(case)["legal_name"] == name
        purge_records = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.purged")
        ).all()
    assert [record.object_id for record in purge_records] == [due]

    raw = database_bytes(request, app)
    assert INTAKE["legal_name"].encode() not in raw
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Not even the ciphertexts or the wrapped key linger in free pages (secure_delete).
        for blob in secrets:
            assert blob not in raw

    clock.advance(days=200)
    assert runner.invoke(args=["cases", "purge-expired"]).output.strip() == "Purged 1 case(s)."
    assert runner.invoke(args=["cases", "purge-expired"]).output.strip() == "Purged 0 case(s)."


def test_a_purged_case_is_gone_for_its_caseworker_and_stays_listed_as_a_tombstone(
    app, person, runner, clock
):
    worker = person()
    case_id = worker.create_case()
    _close(worker, case_id)
    clock.advance(days=181)
    runner.invoke(args=["cases", "purge-expired"])
    worker.auth.login(worker.email)
    assert worker.client.get(f"/cases/{case_id}").status_code == 404
    admin = person(Role.ADMIN)
    with app.app_context():
        code = db.session.get(Case, case_id).code
    assert f"{code} (purged)" in admin.client.get("/cases/").get_data(as_text=True)
    assert admin.client.get(f"/cases/{case_id}/manage").status_code == 404
    # A new referral of the same person is not blocked by the shredded case.
    assert worker.client.post("/cases/new", data=INTAKE).status_code == 302


def test_admin_purge_needs_reauthentication_and_the_typed_code(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    admin = person(Role.ADMIN)
    with app.app_context():
        code = db.session.get(Case, case_id).code
    url = f"/cases/{case_id}/purge"

    clock.advance(minutes=6)
    admin.client.get(f"/cases/{case_id}/manage")  # keeps the session alive
    response = admin.client.post(url, data={"confirm_code": code})
    assert response.status_code == 302
    assert "/reauthenticate" in response.headers["Location"]
    with app.app_context():
        assert db.session.get(Case, case_id).purged_at is None

    assert admin.reauthenticate().status_code == 302
    for wrong in ("", "RC-XXXX", code.lower()):
        response = admin.client.post(url, data={"confirm_code": wrong})
        assert response.headers["Location"].endswith(f"/cases/{case_id}/manage")
    with app.app_context():
        assert db.session.get(Case, case_id).purged_at is None

    response = admin.client.post(url, data={"confirm_code": code})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/cases/")
    _assert_shredded(app, case_id)
    assert worker.client.get(f"/cases/{case_id}").status_code == 404
    with app.app_context():
        record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "case.purged"))
        assert record.actor_id == admin.id
        assert record.object_id == case_id
