"""Revision 0009 encrypts the free text an older version kept in clear, with the app's keys, and
drops a purged case's; its downgrade gives the older code its clear columns back."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from accounts.models import Role, User
from app import create_app
from cases import services as cases
from cases.models import Case, RiskLevel
from extensions import db
from finance import free_text
from finance.models import Disbursement, Payout
from security.clock import now
from tests.conftest import Clock, settings_for
from tests.factories import make_drive, make_user
from tests.finance.conftest import fund
from tests.finance.test_disbursements import Setup, act, ask, open_case
from tests.test_migrations import empty_database_url, keep_logging  # noqa: F401 (fixtures)

REFERENCE = "WISE-88213 ZULEIKA Q"
REASON = "Payee Vasquez-Thornbury is not the family named"
BANK_REFERENCE = "BARC 2026-11-24 OYELARAN"
PURGED_REFERENCE = "WISE-1 PURGED PERSON"


def _migrate(app, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, result.output
    assert result.exception is None, repr(result.exception)


def _world(app) -> dict[str, str]:
    """A paid and a rejected disbursement, one paid for a case since purged, a payout."""
    drive_id = make_drive(app)
    fund(app, drive_id, 100_000)
    caseworker_id = make_user(app, Role.CASEWORKER)
    finance_id = make_user(app, Role.FINANCE)
    setup = Setup(drive_id, caseworker_id, *open_case(app, caseworker_id))
    with app.app_context():
        other = cases.create_case(
            db.session.get(User, caseworker_id),
            {"legal_name": "Another Person", "contact": "+1 555 0100"},
            cases.ClearFields(risk_level=RiskLevel.LOW, region="Northern Region"),
        )
        db.session.commit()
        gone = Setup(drive_id, caseworker_id, other.id, other.code)
    ids = {"paid": ask(app, setup, 1_000), "rejected": ask(app, setup, 2_000)}
    ids["gone"] = ask(app, gone, 3_000)
    for name in ("paid", "gone"):
        act(app, "approve_disbursement", ids[name], finance_id)
    act(app, "mark_paid", ids["paid"], finance_id, REFERENCE)
    act(app, "mark_paid", ids["gone"], finance_id, PURGED_REFERENCE)
    act(app, "reject_disbursement", ids["rejected"], finance_id, REASON)
    with app.app_context():
        payout = Payout(
            id="po_migrated",
            amount_minor=1000,
            currency="usd",
            status="paid",
            created_at=now(),
            lines_net_minor=1000,
        )
        free_text.seal_bank_reference(payout, BANK_REFERENCE)
        db.session.add(payout)
        db.session.flush()
        cases.purge_case(db.session.get(Case, gone.case_id), None, "test")
        db.session.commit()
    return ids


def _clear_columns(app) -> dict[str, set[str]]:
    with app.app_context():
        inspector = inspect(db.engine)
        return {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in ("disbursements", "payouts")
        }


# migrations/env.py is Flask-Migrate's template (see tests/test_migrations.py).
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_the_upgrade_encrypts_what_an_older_version_kept_in_clear(
    empty_database_url,  # noqa: F811
    tmp_path,
    keep_logging,  # noqa: F811
):
    app = create_app(settings_for(empty_database_url, tmp_path / "instance", Clock()))
    _migrate(app, "upgrade")
    ids = _world(app)

    _migrate(app, "downgrade", "0008")  # the older schema, with the values in clear
    with app.app_context():
        clear = {
            row.id: (row.decision_reason, row.payment_reference)
            for row in db.session.execute(
                text("SELECT id, decision_reason, payment_reference FROM disbursements")
            )
        }
        bank = db.session.scalar(text("SELECT bank_reference FROM payouts"))
    assert clear == {
        ids["paid"]: (None, REFERENCE),
        ids["rejected"]: (REASON, None),
        ids["gone"]: (None, None),  # its case was purged: nothing to give back
    }
    assert bank == BANK_REFERENCE
    with app.app_context():  # an older version kept the purged case's text in clear
        db.session.execute(
            text("UPDATE disbursements SET payment_reference = :text WHERE id = :id"),
            {"text": PURGED_REFERENCE, "id": ids["gone"]},
        )
        db.session.commit()

    _migrate(app, "upgrade")
    columns = _clear_columns(app)
    assert {"decision_reason", "payment_reference"}.isdisjoint(columns["disbursements"])
    assert "bank_reference" not in columns["payouts"]
    with app.app_context():
        texts = {
            item_id: free_text.text_of(db.session.get(Disbursement, item_id))
            for item_id in ids.values()
        }
        assert free_text.bank_reference(db.session.get(Payout, "po_migrated")) == BANK_REFERENCE
        assert db.session.get(Disbursement, ids["gone"]).payment_reference_enc is None
        stored = " ".join(
            repr(row)
            for table in ("disbursements", "payouts")
            for row in db.session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
        )
        assert db.session.query(User).count() == 2
        db.session.remove()
        db.engine.dispose()
    assert texts == {
        ids["paid"]: free_text.DisbursementText(None, REFERENCE),
        ids["rejected"]: free_text.DisbursementText(REASON, None),
        ids["gone"]: free_text.DisbursementText(None, None),
    }
    for needle in (REFERENCE, REASON, BANK_REFERENCE, PURGED_REFERENCE):
        assert needle not in stored
