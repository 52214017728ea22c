"""Duplicate referrals are found by blind index, without saying which case matched."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from cases.models import BlindIndexEntry, Case
from extensions import db
from security.blind_index import normalise_contact, normalise_name
from tests.cases.conftest import INTAKE

MESSAGE = "a case with this name or contact already exists"


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


@pytest.fixture
def first_case(app, person):
    worker = person()
    case_id = worker.create_case(legal_name="José  Pérez", known_as="", contact="+1 (555) 010-0")
    with app.app_context():
        code = db.session.get(Case, case_id).code
    return worker, code


@pytest.mark.parametrize(
    ("legal_name", "contact"),
    [
        ("jose perez", "+447700900999"),
        ("JOSÉ PÉREZ", ""),
        ("  Jose\tPerez ", ""),
        ("Maria Gonzalez", "+15550100"),
        ("Maria Gonzalez", "+1 555 0100"),
    ],
)
def test_duplicate_is_refused_without_saying_which(app, person, first_case, legal_name, contact):
    _, code = first_case
    other = person()  # a different caseworker, who cannot see the first case
    response = other.client.post(
        "/cases/new",
        data={**INTAKE, "legal_name": legal_name, "known_as": "", "contact": contact},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert MESSAGE in page.casefold()
    assert "ask an admin" in page.casefold()
    assert code not in page
    assert "José  Pérez" not in page
    assert _count(app) == 1


@pytest.mark.parametrize(
    ("legal_name", "contact"),
    [("Josefina Perezova", "+15550101"), ("Jose Pereira", ""), ("Pérez José", "")],
)
def test_a_different_person_is_not_a_duplicate(app, first_case, legal_name, contact):
    worker, _ = first_case
    response = worker.client.post(
        "/cases/new",
        data={**INTAKE, "legal_name": legal_name, "known_as": "", "contact": contact},
    )
    assert response.status_code == 302
    assert _count(app) == 2


def test_blind_index_holds_no_plain_value(app, first_case):
    with app.app_context():
        digests = db.session.scalars(select(BlindIndexEntry.digest)).all()
    assert len(digests) == 2
    assert all(len(digest) == 64 and "perez" not in digest for digest in digests)


def test_normalisation():
    assert normalise_name("José  Pérez") == normalise_name("jose perez") == "jose perez"
    assert normalise_name("STRASSE") == normalise_name("straße")
    assert normalise_contact("+1 (555) 010-0") == normalise_contact("+15550100")
    assert normalise_contact("Signal: @Zu.Leika") == normalise_contact("signal:@zu.leika")


def _created_details(app):
    from audit.models import AuditRecord

    with app.app_context():
        rows = db.session.scalars(
            select(AuditRecord.details)
            .where(AuditRecord.action == "case.created")
            .order_by(AuditRecord.id)
        ).all()
    return [json.loads(row) for row in rows]


def test_a_duplicate_confirmed_after_an_admins_check_is_created_and_flagged_in_the_audit_log(
    app, person, first_case
):
    other = person()
    response = other.client.post(
        "/cases/new",
        data={
            **INTAKE,
            "legal_name": "jose perez",
            "known_as": "",
            "contact": "",
            "confirm_duplicate": "yes",
        },
    )
    assert response.status_code == 302
    assert _count(app) == 2
    first, second = _created_details(app)
    assert "possible_duplicate" not in first
    assert second["possible_duplicate"] is True  # for an admin reviewing the log
