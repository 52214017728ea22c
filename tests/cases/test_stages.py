"""The stage graph, four-eyes verification and the retention clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import services
from cases.encryption import CaseError
from cases.models import Case, Outcome, Stage
from extensions import db
from tests.cases.conftest import INTAKE
from tests.conftest import Auth
from tests.factories import make_user, user_email

PATH = [
    Stage.SCREENING,
    Stage.VERIFIED,
    Stage.APPROVED,
    Stage.FUNDED,
    Stage.TRAVEL_BOOKED,
    Stage.IN_TRANSIT,
    Stage.ARRIVED,
    Stage.CLOSED,
]
CHECKS = {
    "has_seen_documents": "y",
    "has_contacted_references": "y",
    "has_assessed_risk": "y",
    "notes": "Passport seen",
}


def _set_stage(app, case_id, stage):
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case_id).values(stage=stage))
        db.session.commit()


def _case(app, case_id):
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [
        (Stage.REFERRED, Stage.VERIFIED),
        (Stage.REFERRED, Stage.ARRIVED),
        (Stage.APPROVED, Stage.TRAVEL_BOOKED),
        (Stage.DOCUMENTS, Stage.APPROVED),
        (Stage.SETTLING, Stage.ARRIVED),
        (Stage.SCREENING, Stage.FUNDED),
        (Stage.VERIFIED, Stage.SCREENING),
        (Stage.FUNDED, Stage.DECLINED),
        (Stage.ARRIVED, Stage.WITHDRAWN),
        (Stage.CLOSED, Stage.REFERRED),
        (Stage.DECLINED, Stage.SCREENING),
    ],
)
def test_transitions_outside_the_graph_are_refused(app, person, from_stage, to_stage):
    worker = person()
    case_id = worker.create_case()
    _set_stage(app, case_id, from_stage)
    response = worker.client.post(
        f"/cases/{case_id}/stage", data={"to_stage": to_stage.value, "reason": "Try it"}
    )
    assert response.status_code == 302
    assert _case(app, case_id).stage is from_stage
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "cannot move from" in page


def test_every_pair_outside_the_graph_is_refused_by_the_service(app, person):
    worker = person()
    case_id = worker.create_case()
    with app.app_context():
        actor = db.session.get(User, worker.id)
        case = db.session.get(Case, case_id)
        for from_stage in Stage:
            for to_stage in set(Stage) - services.TRANSITIONS[from_stage]:
                case.stage = from_stage
                with pytest.raises(CaseError):
                    services.change_stage(case, actor, to_stage, "reason")
        db.session.rollback()


def test_a_reason_is_required(app, person):
    worker = person()
    case_id = worker.create_case()
    worker.client.post(f"/cases/{case_id}/stage", data={"to_stage": "screening", "reason": " "})
    assert _case(app, case_id).stage is Stage.REFERRED


def test_verified_needs_a_second_person(app, person):
    worker = person()
    case_id = worker.create_case()
    url = f"/cases/{case_id}"
    worker.client.post(url + "/stage", data={"to_stage": "screening", "reason": "Real"})
    worker.client.post(url + "/stage", data={"to_stage": "verified", "reason": "Too soon"})
    assert _case(app, case_id).stage is Stage.SCREENING

    worker.client.post(url + "/verification", data=CHECKS)
    worker.client.post(url + "/verification/confirm")  # the recorder cannot confirm
    worker.client.post(url + "/stage", data={"to_stage": "verified", "reason": "Mine only"})
    assert _case(app, case_id).stage is Stage.SCREENING

    second = person()
    admin = person(Role.ADMIN)
    admin.client.post(f"{url}/manage", data={"user_id": second.id})
    second.client.post(url + "/verification/confirm")
    worker.client.post(url + "/verification", data=CHECKS)  # recorded again: confirmation gone
    worker.client.post(url + "/stage", data={"to_stage": "verified", "reason": "Stale"})
    assert _case(app, case_id).stage is Stage.SCREENING

    second.client.post(url + "/verification/confirm")
    worker.client.post(url + "/stage", data={"to_stage": "verified", "reason": "Two people"})
    assert _case(app, case_id).stage is Stage.VERIFIED


def test_incomplete_checks_cannot_be_confirmed(app, person):
    worker = person()
    case_id = worker.create_case()
    with app.app_context():
        case = db.session.get(Case, case_id)
        services.record_verification(
            case,
            db.session.get(User, worker.id),
            has_seen_documents=True,
            has_contacted_references=False,
            has_assessed_risk=True,
            notes="",
        )
        admin = User(email="x@example.org", name="A", role=Role.ADMIN)
        admin.id = -1
        with pytest.raises(CaseError, match="All three checks"):
            services.confirm_verification(case, admin)
        db.session.rollback()


def _walk_to_arrived(app, worker, case_id, via_documents=False, transit_country=None):
    url = f"/cases/{case_id}"
    worker.client.post(url + "/stage", data={"to_stage": "screening", "reason": "Real"})
    worker.client.post(url + "/verification", data=CHECKS)
    second_id = make_user(app, Role.ADMIN)
    with app.app_context():
        case = db.session.get(Case, case_id)
        services.confirm_verification(case, db.session.get(User, second_id))
        db.session.commit()
    path = PATH[1:-1]
    if via_documents:
        path.insert(path.index(Stage.FUNDED), Stage.DOCUMENTS)
    for stage in path:
        data = {"to_stage": stage.value, "reason": "Next"}
        if stage is Stage.IN_TRANSIT and transit_country:
            data["transit_country"] = transit_country
        worker.client.post(url + "/stage", data=data)
        assert _case(app, case_id).stage is stage


def test_the_whole_path_is_audited_and_closing_starts_the_retention_clock(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    _walk_to_arrived(app, worker, case_id)
    worker.client.post(
        f"/cases/{case_id}/stage",
        data={"to_stage": "closed", "outcome": "relocated", "reason": "Safe"},
    )
    case = _case(app, case_id)
    assert case.stage is Stage.CLOSED
    assert case.outcome is Outcome.RELOCATED
    assert case.closed_at == clock()
    assert case.purge_after == clock() + timedelta(days=180)
    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.stage_changed")
        ).all()
    assert [r.actor_id for r in records] == [worker.id] * len(PATH)
    assert all(r.object_id == case_id for r in records)
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "It will be purged after" in page


@pytest.mark.parametrize("outcome", [Outcome.DECLINED, Outcome.WITHDRAWN, Outcome.LOST_CONTACT])
def test_closing_early_records_the_outcome_and_sets_purge_after(app, person, clock, outcome):
    worker = person()
    case_id = worker.create_case()
    worker.client.post(
        f"/cases/{case_id}/stage",
        data={"to_stage": "closed", "outcome": outcome.value, "reason": "Ended"},
    )
    case = _case(app, case_id)
    assert (case.stage, case.outcome) == (Stage.CLOSED, outcome)
    assert case.purge_after == clock() + timedelta(days=180)
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"This case is closed ({outcome.label.lower()})" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_stage": "closed"}, "Choose how the case ended"),
        ({"to_stage": "closed", "outcome": "relocated"}, "cannot close as relocated"),
        ({"to_stage": "closed", "outcome": "cash_assistance"}, "cannot close as cash"),
        ({"to_stage": "closed", "outcome": "teleported"}, "Choose a stage"),
        ({"to_stage": "screening", "outcome": "declined"}, "only when closing"),
        ({"to_stage": "screening", "transit_country": "Turkey"}, "only when moving to In transit"),
    ],
)
def test_a_closing_that_does_not_fit_is_refused_and_changes_nothing(app, person, data, message):
    worker = person()
    case_id = worker.create_case()
    response = worker.client.post(f"/cases/{case_id}/stage", data={**data, "reason": "Try"})
    assert response.status_code == 302
    case = _case(app, case_id)
    assert (case.stage, case.outcome, case.purge_after) == (Stage.REFERRED, None, None)
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert message in page


def test_the_documents_and_settling_stages_and_the_transit_country(app, person):
    worker = person()
    case_id = worker.create_case()
    _walk_to_arrived(app, worker, case_id, via_documents=True, transit_country="Türkiye")
    url = f"/cases/{case_id}/stage"
    worker.client.post(url, data={"to_stage": "settling", "reason": "Housing found"})
    case = _case(app, case_id)
    assert (case.stage, case.transit_country) == (Stage.SETTLING, "Türkiye")
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Transit country</dt><dd>Türkiye" in page
    assert '<option value="relocated">Relocated</option>' in page
    worker.client.post(
        url, data={"to_stage": "closed", "outcome": "relocated", "reason": "Settled in"}
    )
    assert _case(app, case_id).outcome is Outcome.RELOCATED


def _closed_case(app, person):
    worker = person()
    case_id = worker.create_case()
    worker.client.post(f"/cases/{case_id}/stage", data={"to_stage": "screening", "reason": "Ok"})
    worker.client.post(
        f"/cases/{case_id}/stage",
        data={"to_stage": "closed", "outcome": "lost_contact", "reason": "No answer"},
    )
    return worker, case_id


def test_an_admin_reopens_a_closed_case_which_cancels_its_purge(app, person):
    worker, case_id = _closed_case(app, person)
    admin = person(Role.ADMIN)
    response = admin.client.post(
        f"/cases/{case_id}/reopen", data={"reason": "She wrote again from a new number."}
    )
    assert response.status_code == 302
    case = _case(app, case_id)
    assert (case.stage, case.outcome, case.purge_after, case.closed_at) == (
        Stage.SCREENING,
        None,
        None,
        None,
    )
    with app.app_context():
        record = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.reopened")
        ).one()
        assert record.actor_id == admin.id
        assert "new number" not in record.details
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "She wrote again from a new number." in page  # the reason, in the history


@pytest.mark.parametrize(("reason", "message"), [("", "Explain why"), ("too short", "Explain why")])
def test_a_reopening_without_a_reason_is_refused(app, person, reason, message):
    _, case_id = _closed_case(app, person)
    admin = person(Role.ADMIN)
    admin.client.post(f"/cases/{case_id}/reopen", data={"reason": reason})
    assert _case(app, case_id).stage is Stage.CLOSED
    assert message in admin.client.get(f"/cases/{case_id}/manage").get_data(as_text=True)


def test_only_admins_reopen_and_only_closed_unpurged_cases(app, person):
    worker, case_id = _closed_case(app, person)
    reason = {"reason": "A good reason to reopen it."}
    assert worker.client.post(f"/cases/{case_id}/reopen", data=reason).status_code == 403
    assert _case(app, case_id).stage is Stage.CLOSED
    admin = person(Role.ADMIN)
    open_id = worker.create_case(legal_name="Still Open")
    admin.client.post(f"/cases/{open_id}/reopen", data=reason)
    assert "Only a closed case" in admin.client.get(f"/cases/{open_id}/manage").get_data(
        as_text=True
    )
    with app.app_context():
        services.purge_case(db.session.get(Case, case_id), None, "test")
        db.session.commit()
    admin.client.post(f"/cases/{case_id}/reopen", data=reason)
    case = _case(app, case_id)
    assert (case.stage, case.purged_at is not None) == (Stage.CLOSED, True)


def test_retention_is_configurable(make_app, clock):
    app = make_app(CASE_RETENTION_DAYS=30)
    worker_id = make_user(app, Role.CASEWORKER)
    client = app.test_client()
    Auth(app, client, clock).login(user_email(app, worker_id))
    case_url = client.post("/cases/new", data=INTAKE).headers["Location"]
    client.post(
        case_url + "/stage", data={"to_stage": "closed", "outcome": "withdrawn", "reason": "Gone"}
    )
    with app.app_context():
        case = db.session.scalar(select(Case))
        assert case.purge_after == clock() + timedelta(days=30)
