"""Disbursements: maker-checker, approval only within the drive's available balance, paid and
voided moving the commitment, finance seeing case codes only."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import services as cases
from cases.models import Case, RiskLevel
from extensions import db
from finance import free_text, services
from finance.models import Category, Disbursement, DisbursementStatus
from tests.factories import audit_actions, make_drive, make_user
from tests.finance.conftest import fund

LEGAL_NAME = "Zuleika Quintanar-Oyelaran"
PAYEE = "Travel agent Erbil, IBAN IQ00 1234"


@dataclass
class Setup:
    drive_id: int
    caseworker_id: int
    case_id: str
    case_code: str


def open_case(app, caseworker_id, legal_name=LEGAL_NAME):
    with app.app_context():
        creator = db.session.get(User, caseworker_id)
        case = cases.create_case(
            creator,
            {"legal_name": legal_name, "contact": "+44 7700 900123"},
            cases.ClearFields(risk_level=RiskLevel.HIGH, region="Eastern Region"),
        )
        db.session.commit()
        return case.id, case.code


@pytest.fixture
def setup(app):
    drive_id = make_drive(app)
    fund(app, drive_id, 10_000)
    caseworker_id = make_user(app, Role.CASEWORKER)
    case_id, code = open_case(app, caseworker_id)
    return Setup(drive_id, caseworker_id, case_id, code)


def ask(app, setup, amount_minor, requester_id=None, category=Category.FLIGHT):
    """A request for money through cases/, as the case page sends it."""
    with app.app_context():
        case = db.session.get(Case, setup.case_id)
        requester = db.session.get(User, requester_id or setup.caseworker_id)
        item = cases.request_money(
            case,
            requester,
            drive_id=setup.drive_id,
            category=category,
            amount_minor=amount_minor,
            payee=PAYEE,
            note="One-way, Friday",
        )
        db.session.commit()
        return item.id


def act(app, action, disbursement_id, user_id, *args):
    """Call a service as a user; commit on success, roll back and re-raise on refusal."""
    with app.app_context():
        user = db.session.get(User, user_id)
        try:
            getattr(services, action)(disbursement_id, user, *args)
        except services.FinanceError:
            db.session.rollback()
            raise
        db.session.commit()


def state(app, setup, disbursement_id=None):
    with app.app_context():
        row = services.ledger_for(setup.drive_id)
        status = db.session.get(Disbursement, disbursement_id).status if disbursement_id else None
        return {
            "available": row.available,
            "committed": row.committed,
            "disbursed": row.disbursed,
            "status": status,
        }


def test_the_requester_cannot_approve_their_own_request_even_as_finance(app, setup, staff):
    finance = staff(Role.FINANCE)
    item = ask(app, setup, 1000, requester_id=finance.id)
    with pytest.raises(services.NotAllowed):
        act(app, "approve_disbursement", item, finance.id)
    response = finance.client.post(f"/finance/disbursements/{item}/approve", follow_redirects=True)
    assert "cannot decide on it" in response.get_data(as_text=True)
    assert state(app, setup, item)["status"] is DisbursementStatus.REQUESTED
    assert audit_actions(app, "disbursement.") == ["disbursement.requested"]


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.ADMIN])
@pytest.mark.parametrize("action", ["approve", "reject", "pay", "void"])
def test_only_finance_may_decide(app, setup, staff, role, action):
    other = staff(role)
    item = ask(app, setup, 1000)
    response = other.client.post(
        f"/finance/disbursements/{item}/{action}", data={"reason": "x", "reference": "y"}
    )
    assert response.status_code == 403
    assert state(app, setup, item)["status"] is DisbursementStatus.REQUESTED


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.ADMIN])
def test_the_service_refuses_a_decision_by_anyone_but_finance(app, setup, role):
    item = ask(app, setup, 1000)
    decider = make_user(app, role)
    with pytest.raises(services.NotAllowed):
        act(app, "approve_disbursement", item, decider)
    with pytest.raises(services.NotAllowed):
        act(app, "reject_disbursement", item, decider, "no")
    assert state(app, setup, item)["status"] is DisbursementStatus.REQUESTED


def test_approval_is_refused_when_it_would_take_available_below_zero(app, setup, staff):
    finance = staff(Role.FINANCE)
    too_much = ask(app, setup, 10_001)
    response = finance.client.post(
        f"/finance/disbursements/{too_much}/approve", follow_redirects=True
    )
    assert "below zero" in response.get_data(as_text=True)
    assert state(app, setup, too_much) == {
        "available": 10_000,
        "committed": 0,
        "disbursed": 0,
        "status": DisbursementStatus.REQUESTED,
    }
    exact = ask(app, setup, 10_000)
    act(app, "approve_disbursement", exact, finance.id)
    assert state(app, setup, exact)["available"] == 0
    one_more = ask(app, setup, 1)
    with pytest.raises(services.InsufficientFunds):
        act(app, "approve_disbursement", one_more, finance.id)


def test_stripe_fees_reduce_what_can_be_approved(app, setup):
    finance_id = make_user(app, Role.FINANCE)
    with app.app_context():
        services.drive_ledger(setup.drive_id).fees_minor = 500
        db.session.commit()
    item = ask(app, setup, 9_501)
    with pytest.raises(services.InsufficientFunds):
        act(app, "approve_disbursement", item, finance_id)
    item = ask(app, setup, 9_500)
    act(app, "approve_disbursement", item, finance_id)


def test_mark_paid_moves_the_commitment_to_disbursed(app, setup, staff):
    finance = staff(Role.FINANCE)
    item = ask(app, setup, 4_000)
    finance.client.post(f"/finance/disbursements/{item}/approve")
    assert state(app, setup, item) == {
        "available": 6_000,
        "committed": 4_000,
        "disbursed": 0,
        "status": DisbursementStatus.APPROVED,
    }
    response = finance.client.post(
        f"/finance/disbursements/{item}/pay",
        data={"reference": "WISE-88213 ZULEIKA Q", "paid_on": "2026-11-23"},
    )
    assert response.status_code == 302
    assert state(app, setup, item) == {
        "available": 6_000,
        "committed": 0,
        "disbursed": 4_000,
        "status": DisbursementStatus.PAID,
    }
    with app.app_context():
        paid = db.session.get(Disbursement, item)
        assert free_text.text_of(paid).reference == "WISE-88213 ZULEIKA Q"
        assert paid.paid_at.date().isoformat() == "2026-11-23"
        assert paid.decided_by_id == finance.id
        # A bank reference often names the payee: it is never copied into the audit log,
        # which outlives a purged case.
        details = " ".join(db.session.scalars(select(AuditRecord.details)).all())
        assert "ZULEIKA" not in details
        assert "WISE-88213" not in details
    assert audit_actions(app, "disbursement.") == [
        "disbursement.requested",
        "disbursement.approved",
        "disbursement.paid",
    ]
    with pytest.raises(services.FinanceError):
        act(app, "void_disbursement", item, finance.id, "too late")


def test_void_releases_the_commitment(app, setup, staff):
    finance = staff(Role.FINANCE)
    item = ask(app, setup, 4_000)
    act(app, "approve_disbursement", item, finance.id)
    finance.client.post(f"/finance/disbursements/{item}/void", data={"reason": "Flight cancelled"})
    assert state(app, setup, item) == {
        "available": 10_000,
        "committed": 0,
        "disbursed": 0,
        "status": DisbursementStatus.VOIDED,
    }
    with pytest.raises(services.FinanceError):
        act(app, "mark_paid", item, finance.id, "WISE-1")
    assert audit_actions(app, "disbursement.")[-1] == "disbursement.voided"


def test_a_rejection_needs_a_reason_and_commits_nothing(app, setup, staff):
    finance = staff(Role.FINANCE)
    item = ask(app, setup, 1_000)
    finance.client.post(f"/finance/disbursements/{item}/reject", data={"reason": " "})
    assert state(app, setup, item)["status"] is DisbursementStatus.REQUESTED
    finance.client.post(f"/finance/disbursements/{item}/reject", data={"reason": "Duplicate"})
    assert state(app, setup, item) == {
        "available": 10_000,
        "committed": 0,
        "disbursed": 0,
        "status": DisbursementStatus.REJECTED,
    }
    with pytest.raises(services.FinanceError):
        act(app, "approve_disbursement", item, finance.id)


def test_finance_sees_the_case_code_and_never_the_person(app, setup, staff):
    ask(app, setup, 640)
    finance = staff(Role.FINANCE)
    for url in ("/finance/disbursements", "/finance/"):
        page = finance.client.get(url).get_data(as_text=True)
        assert setup.case_code in page
        for secret in (LEGAL_NAME, "Quintanar", "7700 900123", "Travel agent", "One-way"):
            assert secret not in page


def test_finance_paying_an_approved_disbursement_sees_whom_to_pay_and_that_is_audited(
    app, setup, staff
):
    finance = staff(Role.FINANCE)
    item = ask(app, setup, 900)
    before = audit_actions(app)
    response = finance.client.get(f"/finance/disbursements/{item}/pay")
    assert response.status_code == 302  # requested, not approved: nothing shown
    page = finance.client.get("/finance/disbursements").get_data(as_text=True)
    assert "shown only for an approved disbursement" in page
    assert "Travel agent" not in page
    assert audit_actions(app)[len(before) :].count("disbursement.payee_viewed") == 0

    act(app, "approve_disbursement", item, finance.id)
    response = finance.client.get(f"/finance/disbursements/{item}/pay")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert PAYEE in page
    for secret in (LEGAL_NAME, "Quintanar", "7700 900123", "One-way"):
        assert secret not in page  # the payee, never the person or the caseworker's note
    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord).where(
                AuditRecord.action.in_(["disbursement.payee_viewed", "case.decrypted"]),
                AuditRecord.actor_id == finance.id,
            )
        ).all()
    assert {(r.action, r.object_id) for r in records} == {
        ("disbursement.payee_viewed", item),
        ("case.decrypted", setup.case_id),
    }
    finance.client.post(
        f"/finance/disbursements/{item}/pay", data={"reference": "WISE-1", "paid_on": ""}
    )
    assert state(app, setup, item)["status"] is DisbursementStatus.PAID
    assert finance.client.get(f"/finance/disbursements/{item}/pay").status_code == 302


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.ADMIN])
def test_only_finance_opens_the_payee(app, setup, staff, role):
    item = ask(app, setup, 900)
    act(app, "approve_disbursement", item, staff(Role.FINANCE).id)
    assert staff(role).client.get(f"/finance/disbursements/{item}/pay").status_code == 403


def test_an_unknown_disbursement_is_404(app, setup, staff):
    assert staff(Role.FINANCE).client.get("/finance/disbursements/nope/pay").status_code == 404
