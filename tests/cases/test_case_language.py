"""The case manager in the reader's language: Arabic pages lay out right to left, and the
labels people read (stages, outcomes, risk levels, document types) go through the catalogue."""

from __future__ import annotations

import io
import re

import pytest
from flask_babel.speaklater import LazyString
from PIL import Image

from accounts.models import Role
from cases.document_models import DocumentKind
from cases.models import Outcome, ReferralSource, RiskLevel, Stage
from tests.cases.conftest import Person
from tests.cases.test_transparency import Books, at, spending

RTL = '<html lang="ar" dir="rtl">'


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "JPEG")
    return buffer.getvalue()


def _busy_case(person) -> tuple[Person, Person, str]:
    """A case with something in every part of its page: a note, a stage change, checks,
    a document and a second caseworker; its caseworker, an admin and the case id."""
    worker = person(Role.CASEWORKER)
    admin = person(Role.ADMIN)
    other = person(Role.CASEWORKER)
    case_id = worker.create_case()
    worker.client.post(f"/cases/{case_id}/notes", data={"body": "Called back"})
    worker.client.post(f"/cases/{case_id}/stage", data={"to_stage": "screening", "reason": "Real"})
    worker.client.post(
        f"/cases/{case_id}/verification",
        data={"has_seen_documents": "y", "has_contacted_references": "y", "notes": "Seen"},
    )
    uploaded = worker.client.post(
        f"/cases/{case_id}/documents",
        data={"kind": "passport", "file": (io.BytesIO(_photo()), "scan.jpg")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    admin.reauthenticate()
    assigned = admin.client.post(f"/cases/{case_id}/manage", data={"user_id": str(other.id)})
    assert assigned.status_code == 302
    return worker, admin, case_id


def test_the_case_list_and_a_case_page_read_right_to_left_in_arabic(person):
    worker, _admin, case_id = _busy_case(person)
    listing = worker.client.get("/cases/?lang=ar")
    assert listing.status_code == 200
    assert RTL in listing.get_data(as_text=True)
    page = worker.client.get(f"/cases/{case_id}?lang=ar")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert RTL in text
    for part in ("identity-heading", "stage-heading", "documents-heading", "access-heading"):
        assert f'id="{part}"' in text  # the whole page, every section filled
    assert "scan.jpg" in text
    # The choice is remembered: the next page, without ?lang, is still Arabic.
    assert RTL in worker.client.get(f"/cases/{case_id}/edit").get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    ["/cases/new", "/cases/{case_id}/edit", "/cases/{case_id}/money"],
)
def test_every_caseworker_page_renders_in_arabic(person, path):
    worker, _admin, case_id = _busy_case(person)
    response = worker.client.get(path.format(case_id=case_id) + "?lang=ar")
    assert response.status_code == 200
    assert RTL in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/cases/",
        "/cases/{case_id}/manage",
        "/cases/reviews/",
        "/cases/reviews/lookup",
        "/admin/lockdown/",
        "/cases/{case_id}/documents/{document_id}/delete",
    ],
)
def test_every_admin_case_page_renders_in_arabic(person, path):
    worker, admin, case_id = _busy_case(person)
    document_id = ""
    if "{document_id}" in path:  # an admin deletes a document of a case opened by break-glass
        page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
        found = re.search(r"/documents/([0-9a-f-]{36})", page)
        assert found is not None
        document_id = found.group(1)
        admin.client.post(
            f"/cases/{case_id}/break-glass", data={"reason": "Checking the passport scan"}
        )
    admin.reauthenticate()
    response = admin.client.get(path.format(case_id=case_id, document_id=document_id) + "?lang=ar")
    assert response.status_code == 200
    assert RTL in response.get_data(as_text=True)


def test_the_public_spending_section_dates_its_figures_in_the_readers_language(app, client, clock):
    books = Books(app, clock)
    books.fund(3)
    at(clock, 2026, 12, 1, 0, 0, 1)
    assert "Figures as of 30 November 2026" in spending(client)
    client.get("/drives/open-books?lang=ar")  # the picker: remembered for the next visit
    arabic = spending(client)
    assert "نوفمبر" in arabic  # November, as Arabic readers write it
    assert "November" not in arabic


def test_a_stage_label_goes_through_the_catalogue(app):
    label = Stage.REFERRED.label
    assert isinstance(label, LazyString)  # translated when shown, in each reader's language
    with app.test_request_context("/cases/"):
        assert str(label) == "Referred"
        assert str(Stage.DOCUMENTS.label) == "Travel documents"
        assert str(Outcome.CASH_ASSISTANCE.label) == "Cash assistance only"
    with app.test_request_context("/cases/?lang=ar"):
        assert str(label)  # no catalogue entry yet falls back to English, never empty


@pytest.mark.parametrize("kind", [Stage, Outcome, RiskLevel, ReferralSource, DocumentKind])
def test_every_value_people_read_has_a_translatable_label(app, kind):
    with app.test_request_context("/cases/"):
        for value in kind:
            assert isinstance(value.label, LazyString)
            assert str(value.label).strip()
