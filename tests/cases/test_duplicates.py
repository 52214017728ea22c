"""Duplicate referrals are found by blind index and reviewed by admins; the caseworker who
asked is never told, so intake is no oracle (issue 13: a test for each attack)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from cases.models import BlindIndexEntry, Case, DuplicateReview, IntakePause
from extensions import db
from security.blind_index import normalise_contact, normalise_name
from tests.cases.conftest import INTAKE
from tests.factories import audit_actions


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


def _reviews(app):
    with app.app_context():
        return [
            (review.case_id, review.matched_case_id, review.kinds, review.found_by_id)
            for review in db.session.scalars(select(DuplicateReview).order_by(DuplicateReview.id))
        ]


@pytest.fixture
def first_case(app, person):
    worker = person()
    case_id = worker.create_case(legal_name="José  Pérez", known_as="", contact="+1 (555) 010-0")
    with app.app_context():
        code = db.session.get(Case, case_id).code
    return worker, case_id, code


@pytest.mark.parametrize(
    ("legal_name", "contact", "kinds"),
    [
        ("jose perez", "+447700900999", "name"),
        ("JOSÉ PÉREZ", "", "name"),
        ("  Jose\tPerez ", "", "name"),
        ("Maria Gonzalez", "+15550100", "contact"),
        ("Jose Perez", "+1 555 0100", "contact,name"),
    ],
)
def test_a_duplicate_answers_like_a_normal_save_and_goes_to_the_admins(
    app, person, first_case, legal_name, contact, kinds
):
    _, first_id, code = first_case
    other = person()  # a different caseworker, who cannot see the first case
    response = other.client.post(
        "/cases/new",
        data={**INTAKE, "legal_name": legal_name, "known_as": "", "contact": contact},
    )
    assert response.status_code == 302  # saved, exactly as any other referral
    new_id = response.headers["Location"].rsplit("/", 1)[-1]
    page = other.client.get(response.headers["Location"]).get_data(as_text=True)
    for telling in (code, "José  Pérez", "duplicate", "already", "review", "match"):
        assert telling.casefold() not in page.casefold()
    assert _count(app) == 2
    assert _reviews(app) == [(new_id, first_id, kinds, other.id)]
    assert "case.duplicate_hit" in audit_actions(app)  # committed with the case


def _as_shown(app, client, response, legal_name):
    """The case page after a save, with what differs between any two cases taken out."""
    case_id = response.headers["Location"].rsplit("/", 1)[-1]
    with app.app_context():
        code = db.session.get(Case, case_id).code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    for varying in (case_id, code, legal_name):
        page = page.replace(varying, "...")
    page = re.sub(r'nonce="[^"]+"', "", page)
    page = re.sub(r"/tasks/[0-9a-f-]{36}/", "/tasks/.../", page)  # each task's random id
    # CSRF tokens are signed with the wall-clock second, which may tick between the two pages.
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1"', page)


def test_a_duplicate_and_a_new_person_look_the_same_to_the_caseworker(app, person, first_case):
    other = person()
    alone = {**INTAKE, "known_as": "", "contact": ""}
    fresh = other.client.post("/cases/new", data={**alone, "legal_name": "Ana Fresh"})
    fresh_page = _as_shown(app, other.client, fresh, "Ana Fresh")
    known = other.client.post("/cases/new", data={**alone, "legal_name": "jose perez"})
    known_page = _as_shown(app, other.client, known, "jose perez")
    assert fresh.status_code == known.status_code == 302
    assert len(_reviews(app)) == 1
    assert fresh_page.replace("Case ... created.", "") == known_page.replace(
        "Case ... created.", ""
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"contact": "+15550100\n+15550101"}, "Enter one contact now"),
        ({"contact": "+15550100, +15550101"}, "Enter one contact now"),
        ({"contact": "+15550100; signal:someone"}, "Enter one contact now"),
        ({"known_as": "Jo, Joe"}, "Enter one other name now"),
        ({"legal_name": "Jose Perez, Maria Gonzalez"}, "Enter one legal name"),
    ],
)
def test_an_intake_with_several_names_or_contacts_is_refused(app, person, changes, message):
    worker = person()
    response = worker.client.post("/cases/new", data={**INTAKE, **changes})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _count(app) == 0
    assert _reviews(app) == []


def test_more_contacts_go_in_one_at_a_time_each_checked(app, person, first_case):
    other = person()
    case_id = other.create_case(legal_name="Ana Fresh", contact="+449990001")
    edit = {**INTAKE, "legal_name": "Ana Fresh", "known_as": ""}
    two = other.client.post(
        f"/cases/{case_id}/edit", data={**edit, "contact": "+449990001\n+449990002\n+449990003"}
    )
    assert two.status_code == 400
    assert "Add one new name and one new contact at a time" in two.get_data(as_text=True)
    one = other.client.post(
        f"/cases/{case_id}/edit", data={**edit, "contact": "+449990001\n+1 555 010 0"}
    )
    assert one.status_code == 302  # saved as usual, though it matches the first case
    assert _reviews(app) == [(case_id, first_case[1], "contact", other.id)]
    assert "case.decrypted" in audit_actions(app)


def test_repeated_hits_pause_intake_for_that_caseworker_and_tell_the_admins(
    app, person, first_case, clock
):
    prober = person()
    for number in range(3):
        response = prober.client.post(
            "/cases/new", data={**INTAKE, "legal_name": f"Probe {number}", "contact": "+15550100"}
        )
        assert response.status_code == 302  # every probe looks like a normal save
    paused = prober.client.get("/cases/new")
    assert paused.status_code == 403
    assert "Intake is paused for your account" in paused.get_data(as_text=True)
    refused = prober.client.post("/cases/new", data={**INTAKE, "legal_name": "Probe 4"})
    assert refused.status_code == 403
    assert _count(app) == 4
    assert "case.intake_paused" in audit_actions(app)
    colleague = person()  # others are not affected
    assert colleague.client.get("/cases/new").status_code == 200

    admin = person(Role.ADMIN)
    page = admin.client.get("/cases/reviews/").get_data(as_text=True)
    assert page.count("The same person") == 1 + 2 + 3  # each probe matched all before it
    assert first_case[2] in page  # the matching case's code, for the admin only
    with app.app_context():
        pause_id = db.session.scalar(select(IntakePause.id))
    clock.advance(minutes=6)
    asked = admin.client.post(f"/cases/reviews/pauses/{pause_id}/lift")
    assert asked.headers["Location"].startswith("/reauthenticate")
    admin.reauthenticate()
    assert admin.client.post(f"/cases/reviews/pauses/{pause_id}/lift").status_code == 302
    assert prober.client.get("/cases/new").status_code == 200
    # The count starts again after a lift: one more hit does not pause at once.
    again = prober.client.post(
        "/cases/new", data={**INTAKE, "legal_name": "Probe 5", "contact": "+15550100"}
    )
    assert again.status_code == 302
    assert prober.client.get("/cases/new").status_code == 200


def test_an_admin_records_a_decision_once_and_bad_decisions_change_nothing(app, person, first_case):
    other = person()
    other.create_case(legal_name="jose perez")
    admin = person(Role.ADMIN)
    with app.app_context():
        review_id = db.session.scalar(select(DuplicateReview.id))
    decide = f"/cases/reviews/{review_id}"
    bad = admin.client.post(decide, data={"outcome": "maybe"}, follow_redirects=True)
    assert "Choose whether these are the same person" in bad.get_data(as_text=True)
    missing = admin.client.post(
        "/cases/reviews/999", data={"outcome": "same"}, follow_redirects=True
    )
    assert "No such possible duplicate" in missing.get_data(as_text=True)
    assert "case.duplicate_reviewed" not in audit_actions(app)
    done = admin.client.post(decide, data={"outcome": "different"})
    assert done.status_code == 302
    page = admin.client.get("/cases/reviews/").get_data(as_text=True)
    assert "Nothing to review." in page
    twice = admin.client.post(decide, data={"outcome": "same"}, follow_redirects=True)
    assert "already reviewed" in twice.get_data(as_text=True)
    assert audit_actions(app, "case.duplicate_reviewed") == ["case.duplicate_reviewed"]
    assert other.client.get("/cases/reviews/").status_code == 403


@pytest.mark.parametrize(
    ("legal_name", "contact"),
    [("Josefina Perezova", "+15550101"), ("Jose Pereira", ""), ("Pérez José", "")],
)
def test_a_different_person_is_not_a_duplicate(app, first_case, legal_name, contact):
    worker, _, _ = first_case
    response = worker.client.post(
        "/cases/new",
        data={**INTAKE, "legal_name": legal_name, "known_as": "", "contact": contact},
    )
    assert response.status_code == 302
    assert _count(app) == 2
    assert _reviews(app) == []


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
