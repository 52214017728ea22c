"""A recorded payout with a line of every type, and the gifts its lines belong to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select

from extensions import db
from finance.models import BalanceTransaction, DriveLedger, Payout
from tests.factories import make_drive
from tests.finance import recorded
from tests.finance.conftest import donate
from tests.finance.recorded import RecordedStripe


@dataclass
class Scenario:
    usd_drive: int
    eur_drive: int
    donations: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)
    payout_id: str = ""


def gift_with_charge(
    app: Flask, drive_id: int, amount: int, name: str, scenario: Scenario, **gift: Any
) -> tuple[str, str]:
    intent_id, charge_id = f"pi_{name}_{drive_id}", f"ch_{name}_{drive_id}"
    scenario.donations[name] = donate(
        app, drive_id, amount, intent_id=intent_id, charge_id=charge_id, **gift
    )
    return intent_id, charge_id


def build(
    app: Flask, stripe: RecordedStripe, *, payout_id: str = "po_week47", skew: int = 0
) -> Scenario:
    """Gifts in USD and EUR and a paid payout whose lines cover every type.

    `skew` makes the payout amount differ from its lines (a payout that does not add up).
    """
    scenario = Scenario(
        usd_drive=make_drive(app, slug=f"usd-{payout_id}".replace("_", "-")),
        eur_drive=make_drive(app, slug=f"eur-{payout_id}".replace("_", "-"), currency="eur"),
    )
    usd, eur = scenario.usd_drive, scenario.eur_drive
    pi_a, ch_a = gift_with_charge(app, usd, 5000, "a", scenario)
    pi_b, ch_b = gift_with_charge(app, usd, 2500, "b", scenario)
    pi_c, ch_c = gift_with_charge(app, usd, 3000, "c", scenario)
    pi_d, ch_d = gift_with_charge(app, eur, 5000, "d", scenario)
    lines = {
        "charge_a": recorded.line(
            "charge",
            amount=5000,
            fee=175,
            source=recorded.charge(ch_a, intent_id=pi_a, amount=5000),
        ),
        "charge_b": recorded.line(
            "charge",
            amount=2500,
            fee=103,
            source=recorded.charge(ch_b, intent_id=pi_b, amount=2500),
        ),
        # Found by its charge alone: the refund carries no PaymentIntent.
        "refund_b": recorded.line(
            "refund",
            amount=-1000,
            source=recorded.refund(f"re_b_{usd}", charge_id=ch_b, intent_id=None, amount=1000),
        ),
        "charge_c": recorded.line(
            "charge",
            amount=3000,
            fee=117,
            source=recorded.charge(ch_c, intent_id=pi_c, amount=3000),
        ),
        # A dispute takes the money back and charges Stripe's dispute fee.
        "dispute_c": recorded.line(
            "adjustment",
            amount=-3000,
            fee=1500,
            source=recorded.dispute(f"dp_c_{usd}", charge_id=ch_c, intent_id=pi_c, amount=3000),
        ),
        # Charged EUR 50.00, settled in the account's USD at Stripe's rate.
        "charge_d": recorded.line(
            "charge",
            amount=5400,
            fee=187,
            exchange_rate=1.08,
            source=recorded.charge(ch_d, intent_id=pi_d, amount=5000, currency="eur"),
        ),
        "radar_fee": recorded.line("stripe_fee", amount=-500),
        "stranger": recorded.line(
            "charge",
            amount=1000,
            fee=59,
            source=recorded.charge(f"ch_x_{usd}", intent_id=f"pi_x_{usd}", amount=1000),
        ),
    }
    scenario.lines = {name: data["id"] for name, data in lines.items()}
    amount = sum(data["net"] for data in lines.values()) + skew
    payout = recorded.payout(payout_id, amount=amount)
    stripe.add_payout(payout, list(lines.values()))
    scenario.lines["payout"] = payout["balance_transaction"]
    scenario.payout_id = payout_id
    return scenario


def snapshot(app: Flask) -> dict[str, Any]:
    """Everything a sync writes, minus the time it last ran."""
    with app.app_context():
        lines = [
            (
                row.id,
                row.payout_id,
                row.type,
                row.amount_minor,
                row.fee_minor,
                row.net_minor,
                row.donation_id,
                row.drive_id,
                row.drive_fee_minor,
                row.match_status,
            )
            for row in db.session.scalars(
                select(BalanceTransaction).order_by(BalanceTransaction.id)
            )
        ]
        payouts = [
            (payout.id, payout.amount_minor, payout.status, payout.lines_net_minor)
            for payout in db.session.scalars(select(Payout).order_by(Payout.id))
        ]
        ledgers = [
            (ledger.drive_id, ledger.fees_minor, ledger.disbursed_minor, ledger.committed_minor)
            for ledger in db.session.scalars(select(DriveLedger).order_by(DriveLedger.drive_id))
        ]
    return {"lines": lines, "payouts": payouts, "ledgers": ledgers}
