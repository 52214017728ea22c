"""A case goes from intake to verified through the web pages, with two people."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Role
from cases.models import Case, Stage
from extensions import db
from tests.factories import make_user, user_email

INTAKE = {
    "legal_name": "José  Pérez",
    "known_as": "Pepe",
    "contact": "+1 555 0100",
    "current_location": "Hidden flat in Erbil",
    "region": "Northern Iraq",
    "risk_level": "high",
    "household_size": "2",
    "risk_narrative": "Named in a group chat.",
    "referral_source": "partner",
}


def test_intake_to_verified_with_a_second_person(app, client, auth):
    first = make_user(app, Role.CASEWORKER)
    second = make_user(app, Role.CASEWORKER)
    auth.login(user_email(app, first))
    response = client.post("/cases/new", data=INTAKE)
    assert response.status_code == 302
    case_url = response.headers["Location"]
    page = client.get(case_url).get_data(as_text=True)
    assert "José  Pérez" in page
    assert "Hidden flat in Erbil" in page
    client.post(case_url + "/stage", data={"to_stage": "screening", "reason": "Looks real"})
    client.post(
        case_url + "/verification",
        data={
            "has_seen_documents": "y",
            "has_contacted_references": "y",
            "has_assessed_risk": "y",
            "notes": "Passport seen",
        },
    )
    client.post(case_url + "/verification/confirm")
    client.post(case_url + "/stage", data={"to_stage": "verified", "reason": "Checked"})
    with app.app_context():
        case = db.session.scalar(select(Case))
        assert case.stage is Stage.SCREENING  # the recorder cannot confirm their own checks
        case_id = case.id
    with app.app_context():
        from accounts.models import User
        from cases import services

        case = db.session.get(Case, case_id)
        services.assign(case, db.session.get(User, second), db.session.get(User, first))
        db.session.commit()
    auth.logout()
    auth.login(user_email(app, second))
    client.post(case_url + "/verification/confirm")
    client.post(case_url + "/stage", data={"to_stage": "verified", "reason": "Two people checked"})
    with app.app_context():
        assert db.session.get(Case, case_id).stage is Stage.VERIFIED


def test_other_caseworker_gets_404(app, client, auth):
    owner = make_user(app, Role.CASEWORKER)
    other = make_user(app, Role.CASEWORKER)
    auth.login(user_email(app, owner))
    case_url = client.post("/cases/new", data=INTAKE).headers["Location"]
    auth.logout()
    auth.login(user_email(app, other))
    assert client.get(case_url).status_code == 404
    assert client.post(case_url + "/notes", data={"body": "x"}).status_code == 404
