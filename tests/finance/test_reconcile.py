"""Recorded Stripe payouts run through the live code path: lines matched, fees to the ledger,
payouts reconciled only when their lines add up, and the sync safe to repeat."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts.models import Role
from audit.models import AuditRecord
from extensions import db
from finance import free_text, reconcile
from finance.models import BalanceTransaction, DriveLedger, Payout
from finance.services import FinanceError
from fundraising.stripe_gateway import current_gateway
from tests.factories import audit_actions
from tests.finance import recorded
from tests.finance.support import build, snapshot
from tests.fundraising.stripe_objects import deliver, event


def sync(app, payout_id):
    with app.app_context():
        reconcile.sync_payout(current_gateway(), payout_id)
        db.session.commit()


def lines_by_name(app, scenario):
    with app.app_context():
        rows = {row.id: row for row in db.session.scalars(select(BalanceTransaction))}
        for row in rows.values():
            db.session.expunge(row)
    return {name: rows[line_id] for name, line_id in scenario.lines.items()}


def test_each_line_is_matched_to_its_gift_or_flagged(app, recorded_stripe):
    scenario = build(app, recorded_stripe)
    sync(app, scenario.payout_id)
    lines = lines_by_name(app, scenario)
    gifts = scenario.donations
    expected = {
        "charge_a": ("matched", gifts["a"]),
        "charge_b": ("matched", gifts["b"]),
        "refund_b": ("matched", gifts["b"]),
        "charge_c": ("matched", gifts["c"]),
        "dispute_c": ("matched", gifts["c"]),
        "charge_d": ("matched", gifts["d"]),
        "radar_fee": ("not_applicable", None),
        "stranger": ("unmatched", None),
        "payout": ("not_applicable", None),
    }
    assert {name: (row.match_status, row.donation_id) for name, row in lines.items()} == expected
    assert {row.payout_id for row in lines.values()} == {scenario.payout_id}
    with app.app_context():
        assert [row.id for row in reconcile.unmatched_lines()] == [scenario.lines["stranger"]]


def test_fees_reach_each_drive_ledger_in_its_currency(app, recorded_stripe):
    scenario = build(app, recorded_stripe)
    sync(app, scenario.payout_id)
    with app.app_context():
        usd = db.session.get(DriveLedger, scenario.usd_drive)
        eur = db.session.get(DriveLedger, scenario.eur_drive)
        # Charge fees plus the dispute fee; nothing from the Radar fee or the stranger's charge.
        assert usd.fees_minor == 175 + 103 + 117 + 1500
        # USD 1.87 at 1.08 USD per EUR is EUR 1.7315, rounded to the cent.
        assert eur.fees_minor == 173


def test_a_cross_currency_charge_keeps_both_amounts_and_the_rate(app, recorded_stripe, staff):
    scenario = build(app, recorded_stripe)
    sync(app, scenario.payout_id)
    row = lines_by_name(app, scenario)["charge_d"]
    assert (row.amount_minor, row.fee_minor, row.currency) == (5400, 187, "usd")
    assert (row.source_amount_minor, row.source_currency) == (5000, "eur")
    assert row.exchange_rate == "1.08"
    assert (row.drive_id, row.drive_fee_minor) == (scenario.eur_drive, 173)
    page = staff(Role.FINANCE).client.get(f"/finance/payouts/{scenario.payout_id}")
    text = page.get_data(as_text=True)
    assert "€50.00 at 1.08" in text
    assert "$54.00" in text


def test_the_dashboard_flags_the_unmatched_line(app, recorded_stripe, staff):
    scenario = build(app, recorded_stripe)
    sync(app, scenario.payout_id)
    page = staff(Role.FINANCE).client.get("/finance/").get_data(as_text=True)
    unmatched = page.split('id="unmatched-heading"', 1)[1]
    assert scenario.lines["stranger"] in unmatched
    assert scenario.lines["charge_a"] not in unmatched


def test_a_payout_that_adds_up_is_reconciled_against_the_bank_reference(
    app, recorded_stripe, staff
):
    scenario = build(app, recorded_stripe)
    sync(app, scenario.payout_id)
    finance = staff(Role.FINANCE)
    url = f"/finance/payouts/{scenario.payout_id}"
    page = finance.client.get(url).get_data(as_text=True)
    assert "The lines add up to the payout exactly." in page
    assert "Mark reconciled" in page
    response = finance.client.post(url + "/reconcile", data={"bank_reference": "BARC 2026-11-24"})
    assert response.status_code == 302
    with app.app_context():
        payout = db.session.get(Payout, scenario.payout_id)
        assert free_text.bank_reference(payout) == "BARC 2026-11-24"
        assert payout.reconciled_at is not None
        assert payout.reconciled_by_id == finance.id
    assert audit_actions(app, "payout.") == ["payout.reconciled"]
    with app.app_context():  # free text that may name someone stays out of the audit log
        assert all("BARC" not in record.details for record in db.session.query(AuditRecord))
    page = finance.client.get(url).get_data(as_text=True)
    assert "against bank reference <strong>BARC 2026-11-24</strong>" in page


def test_a_payout_that_does_not_add_up_cannot_be_reconciled(app, recorded_stripe, staff):
    scenario = build(app, recorded_stripe, skew=100)
    sync(app, scenario.payout_id)
    finance = staff(Role.FINANCE)
    url = f"/finance/payouts/{scenario.payout_id}"
    page = finance.client.get(url).get_data(as_text=True)
    assert "It cannot be reconciled until this is explained." in page
    assert "Mark reconciled" not in page
    before = snapshot(app)
    with app.app_context():
        records = db.session.query(AuditRecord).count()
    response = finance.client.post(url + "/reconcile", data={"bank_reference": "BARC 1"})
    assert response.status_code == 302
    followed = finance.client.get(url).get_data(as_text=True)
    assert "do not add up" in followed
    with app.app_context():
        payout = db.session.get(Payout, scenario.payout_id)
        assert (payout.bank_reference_sealed, payout.reconciled_at) == (None, None)
        assert db.session.query(AuditRecord).count() == records
    assert snapshot(app) == before


def test_a_payout_still_in_transit_cannot_be_reconciled(app, recorded_stripe):
    scenario = build(app, recorded_stripe)
    recorded_stripe.payouts[scenario.payout_id]["status"] = "in_transit"
    sync(app, scenario.payout_id)
    with app.app_context():
        payout = db.session.get(Payout, scenario.payout_id)
        assert payout.is_balanced
        with pytest.raises(FinanceError, match="Only a paid payout"):
            reconcile.mark_reconciled(payout, None, "BARC 2")
        assert payout.reconciled_at is None


@pytest.mark.parametrize(
    ("batch", "analyze_every"),
    [(reconcile.BATCH, reconcile.ANALYZE_EVERY), (2, 3)],
    ids=["one-batch", "batches-of-2-statistics-every-3-lines"],
)
def test_stripe_sync_twice_changes_nothing_the_second_time(
    app, recorded_stripe, runner, monkeypatch, batch, analyze_every
):
    # In small batches the lines span many look-ups, and the planner statistics are refreshed
    # as the table grows (what a sync of 100,000 lines does every 10,000): the same outcome.
    monkeypatch.setattr(reconcile, "BATCH", batch)
    monkeypatch.setattr(reconcile, "ANALYZE_EVERY", analyze_every)
    first = build(app, recorded_stripe)
    build(app, recorded_stripe, payout_id="po_week48")
    result = runner.invoke(args=["stripe", "sync"])
    assert result.exit_code == 0, result.output
    assert "Synced 2 payout(s); 0 do not add up." in result.output
    after_first = snapshot(app)
    assert len(after_first["lines"]) == 2 * len(first.lines)
    with app.app_context():
        ledger = db.session.get(DriveLedger, first.usd_drive)
        assert ledger.fees_minor == 1895
    again = runner.invoke(args=["stripe", "sync"])
    assert again.exit_code == 0, again.output
    assert snapshot(app) == after_first


def test_stripe_sync_since_a_date_takes_only_later_payouts(app, recorded_stripe, runner):
    build(app, recorded_stripe)
    recorded_stripe.payouts["po_week47"]["created"] = recorded.CREATED - 30 * 86400
    build(app, recorded_stripe, payout_id="po_week48")
    result = runner.invoke(args=["stripe", "sync", "--since", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert [row[0] for row in snapshot(app)["payouts"]] == ["po_week48"]
    bad = runner.invoke(args=["stripe", "sync", "--since", "last week"])
    assert bad.exit_code != 0
    assert "ISO date" in bad.output


def test_a_payout_paid_webhook_fetches_and_matches_the_lines(app, client, recorded_stripe):
    scenario = build(app, recorded_stripe)
    payout = recorded_stripe.retrieve_payout(scenario.payout_id)
    response = deliver(client, event("payout.paid", payout))
    assert response.status_code == 200
    assert recorded_stripe.listed == [scenario.payout_id]
    lines = lines_by_name(app, scenario)
    assert lines["charge_a"].donation_id == scenario.donations["a"]
    assert lines["stranger"].match_status == "unmatched"
    with app.app_context():
        stored = db.session.get(Payout, scenario.payout_id)
        assert stored.status == "paid"
        assert stored.is_balanced


def test_a_payout_failed_webhook_stores_the_failure_without_fetching_lines(
    app, client, recorded_stripe
):
    scenario = build(app, recorded_stripe)
    payout = recorded_stripe.retrieve_payout(scenario.payout_id)
    payout.update(status="failed", failure_message="The bank account has been closed.")
    assert deliver(client, event("payout.failed", payout)).status_code == 200
    assert recorded_stripe.listed == []
    with app.app_context():
        stored = db.session.get(Payout, scenario.payout_id)
        assert (stored.status, stored.failure_message) == (
            "failed",
            "The bank account has been closed.",
        )
        assert stored.synced_at is None


def test_lines_imported_before_their_payout_are_attached_to_it_once(app, recorded_stripe):
    scenario = build(app, recorded_stripe)
    early = recorded_stripe.lines[scenario.payout_id][:3]
    with app.app_context():
        assert reconcile.import_balance_transactions(early, None) == 3
        db.session.commit()
    sync(app, scenario.payout_id)
    lines = lines_by_name(app, scenario)
    assert {row.payout_id for row in lines.values()} == {scenario.payout_id}
    with app.app_context():
        assert db.session.get(DriveLedger, scenario.usd_drive).fees_minor == 1895
        assert db.session.get(Payout, scenario.payout_id).is_balanced
