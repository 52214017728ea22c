"""Ledger identities after random sequences of gifts, refunds, disputes, Stripe lines and
disbursements: every figure equals a full recount from the rows, after every step."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accounts.models import Role, User
from extensions import db
from finance import reconcile, services
from finance.models import BalanceTransaction, Category, Disbursement, DisbursementStatus
from fundraising import services as fundraising
from fundraising.models import DisputeStatus, Donation, DonationStatus, Drive
from tests.factories import make_drive, make_user
from tests.finance import recorded
from tests.finance.conftest import fund

amounts = st.integers(min_value=500, max_value=20_000)  # the drive minimum is 5.00
indexes = st.integers(min_value=0, max_value=7)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("give"), amounts, st.booleans()),
        st.tuples(st.just("refund"), indexes, amounts),
        st.tuples(st.just("dispute"), indexes, st.sampled_from(["open", "won", "lost"]), amounts),
        st.tuples(st.just("request"), amounts),
        st.tuples(st.just("approve"), indexes),
        st.tuples(st.just("pay"), indexes),
        st.tuples(st.just("void"), indexes),
    ),
    max_size=14,
)
SEQUENCE = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_slugs = itertools.count()


def recount(drive_id: int) -> dict[str, int]:
    """Every ledger figure from the rows themselves, written out here independently."""
    gross = refunds = lost = 0
    for donation in db.session.scalars(select(Donation).where(Donation.drive_id == drive_id)):
        if donation.status is not DonationStatus.SUCCEEDED:
            continue
        refunded = min(donation.amount_refunded_minor, donation.amount_minor)
        gross += donation.amount_minor
        refunds += refunded
        if donation.dispute_status is DisputeStatus.LOST:
            lost += min(donation.disputed_minor, donation.amount_minor - refunded)
    fees = sum(
        db.session.scalars(
            select(BalanceTransaction.drive_fee_minor).where(
                BalanceTransaction.drive_id == drive_id
            )
        )
    )
    spent = {status: 0 for status in DisbursementStatus}
    for item in db.session.scalars(select(Disbursement).where(Disbursement.drive_id == drive_id)):
        spent[item.status] += item.amount_minor
    return {
        "gross": gross,
        "fees": fees,
        "refunds": refunds,
        "disputes": lost,
        "disbursed": spent[DisbursementStatus.PAID],
        "committed": spent[DisbursementStatus.APPROVED],
    }


class Sequence:
    """Applies steps to one drive through the services, committing each like a request would."""

    def __init__(self, app: Any, drive_id: int, requester_id: int, approver_id: int) -> None:
        self.app = app
        self.drive_id = drive_id
        self.requester_id = requester_id
        self.approver_id = approver_id
        self.gifts: list[str] = []
        self.requests: list[str] = []

    def apply(self, step: tuple[Any, ...]) -> None:
        kind, *args = step
        try:
            getattr(self, kind)(*args)
            db.session.commit()
        except services.FinanceError:
            db.session.rollback()

    def _gift(self, index: int) -> Donation | None:
        if not self.gifts:
            return None
        return db.session.get(Donation, self.gifts[index % len(self.gifts)])

    def _line(self, kind: str, amount: int, fee: int, donation: Donation) -> None:
        source = recorded.charge(
            donation.charge_id or "", intent_id=donation.payment_intent_id, amount=amount
        )
        lines = [recorded.line(kind, amount=amount, fee=fee, source=source)]
        reconcile.import_balance_transactions(lines, None)

    def give(self, amount: int, has_line: bool) -> None:
        drive = db.session.get(Drive, self.drive_id)
        donation = fundraising.start_donation(drive, fundraising.GiftRequest(amount_minor=amount))
        donation.payment_intent_id = f"pi_{donation.id}"
        donation.charge_id = f"ch_{donation.id}"
        fundraising.set_payment_status(donation, DonationStatus.SUCCEEDED)
        self.gifts.append(donation.id)
        if has_line:
            self._line("charge", amount, amount * 29 // 1000 + 30, donation)

    def refund(self, index: int, amount: int) -> None:
        donation = self._gift(index)
        if donation is not None:
            cumulative = min(donation.amount_refunded_minor + amount, donation.amount_minor)
            fundraising.record_refund(donation, cumulative)
            self._line("refund", -amount, 0, donation)

    def dispute(self, index: int, outcome: str, amount: int) -> None:
        donation = self._gift(index)
        if donation is not None:
            fundraising.record_dispute(donation, DisputeStatus(outcome), amount)
            if outcome == "lost":
                self._line("adjustment", -amount, 1500, donation)

    def request(self, amount: int) -> None:
        item = services.request_disbursement(
            case_id="c0ffee00-0000-4000-8000-000000000000",
            case_code="RC-7K3Q",
            drive_id=self.drive_id,
            category=Category.HOUSING,
            amount_minor=amount,
            payee_enc=None,
            note_enc=None,
            requester=db.session.get(User, self.requester_id),
        )
        self.requests.append(item.id)

    def _decide(self, index: int, action: str, *args: Any) -> None:
        if self.requests:
            approver = db.session.get(User, self.approver_id)
            target = self.requests[index % len(self.requests)]
            getattr(services, action)(target, approver, *args)

    def approve(self, index: int) -> None:
        self._decide(index, "approve_disbursement")

    def pay(self, index: int) -> None:
        self._decide(index, "mark_paid", "WISE-1")

    def void(self, index: int) -> None:
        self._decide(index, "void_disbursement", "changed plans")


def check(drive_id: int, *, with_gifts: bool) -> None:
    row = services.ledger_for(drive_id)
    counted = recount(drive_id)
    figures = {name: getattr(row, name) for name in counted}
    if not with_gifts:  # gross, refunds and disputes come from fundraising's DriveTotals
        for name in ("gross", "refunds", "disputes"):
            del figures[name], counted[name]
    assert figures == counted
    assert row.net == row.gross - row.fees - row.refunds - row.disputes
    assert row.available == row.net - row.disbursed - row.committed


@pytest.fixture
def people(app):
    return make_user(app, Role.CASEWORKER), make_user(app, Role.FINANCE)


@SEQUENCE
@given(sequence=steps, funds=st.integers(min_value=0, max_value=40_000))
def test_fees_and_spending_equal_a_recount_after_every_step(app, people, sequence, funds):
    drive_id = make_drive(app, slug=f"drive-{next(_slugs)}")
    fund(app, drive_id, funds)  # money to approve against, apart from the gifts below
    with app.app_context():
        run = Sequence(app, drive_id, *people)
        for step in sequence:
            run.apply(step)
            check(drive_id, with_gifts=False)
            assert services.ledger_for(drive_id).committed >= 0


@SEQUENCE
@given(sequence=steps)
def test_every_ledger_figure_equals_a_recount_after_every_step(app, people, sequence):
    drive_id = make_drive(app, slug=f"drive-{next(_slugs)}")
    with app.app_context():
        run = Sequence(app, drive_id, *people)
        for step in sequence:
            run.apply(step)
            check(drive_id, with_gifts=True)


def test_a_gift_a_refund_and_a_lost_dispute_reach_the_ledger(app, people):
    drive_id = make_drive(app)
    with app.app_context():
        run = Sequence(app, drive_id, *people)
        for step in [("give", 5000, True), ("give", 3000, True), ("refund", 0, 1000)]:
            run.apply(step)
        run.apply(("dispute", 1, "lost", 3000))
        row = services.ledger_for(drive_id)
        assert (row.gross, row.refunds, row.disputes) == (8000, 1000, 3000)
        assert row.fees == (5000 * 29 // 1000 + 30) + (3000 * 29 // 1000 + 30) + 1500
