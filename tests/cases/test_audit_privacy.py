"""Audit records and logs carry case ids, never a person's name, place or contact."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from audit.models import AuditRecord
from extensions import db
from tests.cases.conftest import INTAKE, SECRETS
from tests.factories import make_drive

NOTE = "Met Zuleika behind the Marrowgate mill at dawn"
EDITED = "Zuleika Quintanar-Oyelaran de Hoyos"


def _needles() -> list[str]:
    values = [*SECRETS, NOTE, EDITED, "Marrowgate mill", "Quintanar", "Zuleika"]
    return sorted({form for value in values for form in (value, value.casefold())})


def _full_flow(app, person, clock):
    """Create, read, edit, note, stage, verification, break-glass, export and purge."""
    worker = person()
    second = person()
    admin = person(Role.ADMIN)
    case_id = worker.create_case()
    url = f"/cases/{case_id}"
    assert worker.client.get(url).status_code == 200
    edit = {**INTAKE, "legal_name": EDITED}
    assert worker.client.post(url + "/edit", data=edit).status_code == 302
    worker.client.post(url + "/notes", data={"body": NOTE})
    worker.client.post(url + "/stage", data={"to_stage": "screening", "reason": NOTE})
    worker.client.post(
        url + "/verification",
        data={
            "has_seen_documents": "y",
            "has_contacted_references": "y",
            "has_assessed_risk": "y",
            "notes": NOTE,
        },
    )
    assert second.client.get(url).status_code == 404  # refused, and audited
    admin.client.post(url + "/break-glass", data={"reason": "Zuleika asked us to check in"})
    admin.client.post(url + "/verification/confirm")
    assert worker.client.get(url + "/export").status_code == 200
    # A duplicate referral: saved like any other, reviewed by admins, audited without identity.
    assert second.client.post("/cases/new", data=INTAKE).status_code == 302
    admin.client.post(url + "/purge", data={"confirm_code": "wrong"})
    with app.app_context():
        from cases.models import Case

        code = db.session.get(Case, case_id).code
    admin.client.post(url + "/purge", data={"confirm_code": code})
    return case_id


def test_audit_records_hold_no_identity(app, person, clock):
    case_id = _full_flow(app, person, clock)
    with app.app_context():
        records = db.session.scalars(select(AuditRecord)).all()
    actions = {record.action for record in records}
    assert {
        "case.created",
        "case.read",
        "case.updated",
        "case.note_added",
        "case.stage_changed",
        "case.verification_recorded",
        "case.verification_confirmed",
        "case.access_denied",
        "case.break_glass",
        "case.export",
        "case.duplicate_hit",
        "case.purged",
    } <= actions
    assert any(record.object_id == case_id for record in records)
    for record in records:
        stored = " ".join(
            str(value)
            for value in (record.action, record.object_type, record.object_id, record.details)
        )
        for needle in _needles():
            assert needle not in stored, (record.action, needle)
    edit = next(record for record in records if record.action == "case.updated")
    assert "legal_name" in edit.details  # the changed field's name, not its value


def test_logs_hold_no_identity(app, person, clock, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # every statement and row
    _full_flow(app, person, clock)
    captured = capsys.readouterr()
    logged = "\n".join(
        [caplog.text, captured.out, captured.err] + [str(record.args) for record in caplog.records]
    )
    assert any(record.name.startswith("sqlalchemy") for record in caplog.records)
    for needle in _needles():
        assert needle not in logged, needle


@pytest.mark.parametrize("page", ["", "/edit", "/money", "/export"])
def test_every_page_that_opens_a_case_records_who_opened_it(app, person, page):
    """Enforced where a field is decrypted, not per view: the edit and money pages decrypt
    identity and payee fields too, and each opening is one audited read per request."""
    worker = person()
    case_id = worker.create_case()
    if page == "/money":  # the money page opens the payee of a request, when there is one
        drive_id = make_drive(app)
        request = {"drive_id": drive_id, "category": "flight", "amount": "640.50"}
        request["payee"] = "Travel agent Erbil"
        assert worker.client.post(f"/cases/{case_id}/money", data=request).status_code == 302
    with app.app_context():
        before = db.session.scalar(
            select(func.count()).where(AuditRecord.action == "case.decrypted")
        )
    assert worker.client.get(f"/cases/{case_id}{page}").status_code == 200
    with app.app_context():
        opened = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.decrypted")
        ).all()
    assert len(opened) == before + 1  # once for the request, however many fields it opened
    assert (opened[-1].actor_id, opened[-1].object_id) == (worker.id, case_id)
