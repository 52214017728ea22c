"""The stage graph, four-eyes verification and the retention clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import services
from cases.encryption import CaseError
from cases.models import Case, Stage
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
        (Stage.REFERRED, Stage.CLOSED),
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


def _walk_to_arrived(app, worker, case_id):
    url = f"/cases/{case_id}"
    worker.client.post(url + "/stage", data={"to_stage": "screening", "reason": "Real"})
    worker.client.post(url + "/verification", data=CHECKS)
    second_id = make_user(app, Role.ADMIN)
    with app.app_context():
        case = db.session.get(Case, case_id)
        services.confirm_verification(case, db.session.get(User, second_id))
        db.session.commit()
    for stage in PATH[1:-1]:
        worker.client.post(url + "/stage", data={"to_stage": stage.value, "reason": "Next"})
        assert _case(app, case_id).stage is stage


def test_the_whole_path_is_audited_and_closing_starts_the_retention_clock(app, person, clock):
    worker = person()
    case_id = worker.create_case()
    _walk_to_arrived(app, worker, case_id)
    worker.client.post(f"/cases/{case_id}/stage", data={"to_stage": "closed", "reason": "Safe"})
    case = _case(app, case_id)
    assert case.stage is Stage.CLOSED
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


@pytest.mark.parametrize("to_stage", [Stage.DECLINED, Stage.WITHDRAWN])
def test_closing_early_sets_purge_after(app, person, clock, to_stage):
    worker = person()
    case_id = worker.create_case()
    worker.client.post(
        f"/cases/{case_id}/stage", data={"to_stage": to_stage.value, "reason": "Ended"}
    )
    case = _case(app, case_id)
    assert case.stage is to_stage
    assert case.purge_after == clock() + timedelta(days=180)


def test_retention_is_configurable(make_app, clock):
    app = make_app(CASE_RETENTION_DAYS=30)
    worker_id = make_user(app, Role.CASEWORKER)
    client = app.test_client()
    Auth(app, client, clock).login(user_email(app, worker_id))
    case_url = client.post("/cases/new", data=INTAKE).headers["Location"]
    client.post(case_url + "/stage", data={"to_stage": "withdrawn", "reason": "Gone"})
    with app.app_context():
        case = db.session.scalar(select(Case))
        assert case.purge_after == clock() + timedelta(days=30)
