"""Two finance users approve at the same moment, on real concurrent PostgreSQL connections:
together the requests would overdraw the drive, so exactly one may succeed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from accounts.models import Role, User
from extensions import db
from finance import services
from finance.models import Category, Disbursement, DisbursementStatus
from tests.factories import make_drive, make_user
from tests.finance.conftest import fund


def request(app, drive_id, requester_id, amount_minor):
    with app.app_context():
        item = services.request_disbursement(
            case_id="c0ffee00-0000-4000-8000-000000000000",
            case_code="RC-7K3Q",
            drive_id=drive_id,
            category=Category.FLIGHT,
            amount_minor=amount_minor,
            payee_enc=None,
            note_enc=None,
            requester=db.session.get(User, requester_id),
        )
        db.session.commit()
        return item.id


@pytest.mark.parametrize("round_number", range(2))
@pytest.mark.parametrize("has_ledger_row", [False, True], ids=["first-use", "existing-row"])
def test_two_concurrent_approvals_that_together_overdraw_exactly_one_succeeds(
    app, database_url, has_ledger_row, round_number
):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time; the race needs PostgreSQL's row locks")
    drive_id = make_drive(app)
    fund(app, drive_id, 10_000)
    if has_ledger_row:  # otherwise the two approvals race to create it
        with app.app_context():
            services.drive_ledger(drive_id)
            db.session.commit()
    caseworker = make_user(app, Role.CASEWORKER)
    approvers = [make_user(app, Role.FINANCE), make_user(app, Role.FINANCE)]
    items = [request(app, drive_id, caseworker, 6_000) for _ in approvers]
    barrier = threading.Barrier(2, timeout=20)
    outcomes: dict[int, str] = {}

    def approve(index: int) -> None:
        with app.app_context():
            # Each thread has its own session and connection. Both look at the balance first
            # (as the page does), so each transaction has begun and has seen 10,000 available
            # before either approves.
            approver = db.session.get(User, approvers[index])
            assert services.ledger_for(drive_id).available == 10_000
            barrier.wait()
            try:
                services.approve_disbursement(items[index], approver)
                db.session.commit()
                outcomes[index] = "approved"
            except services.InsufficientFunds:
                db.session.rollback()
                outcomes[index] = "refused"
            except Exception as error:  # reported by the assertion below
                db.session.rollback()
                outcomes[index] = repr(error)

    threads = [threading.Thread(target=approve, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["approved", "refused"]
    with app.app_context():
        statuses = db.session.scalars(select(Disbursement.status)).all()
        assert sorted(statuses) == [DisbursementStatus.APPROVED, DisbursementStatus.REQUESTED]
        row = services.ledger_for(drive_id)
        assert (row.committed, row.available) == (6_000, 4_000)
