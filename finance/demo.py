"""A demo payout for the demo drive's gifts, through the same import code as Stripe's JSON."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from extensions import db
from finance import reconcile
from fundraising.models import Donation, DonationStatus, Drive
from security.clock import now


def _line(
    line_id: str,
    kind: str,
    amount: int,
    fee: int,
    source: dict[str, Any],
    created: int,
    currency: str,
) -> dict[str, Any]:
    return {
        "id": line_id,
        "object": "balance_transaction",
        "type": kind,
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "currency": currency,
        "created": created,
        "exchange_rate": None,
        "reporting_category": kind,
        "source": source,
    }


def seed_demo_payout(drive: Drive) -> None:
    """Give the demo gifts Stripe ids and pay them out in one balanced, paid payout."""
    moment = now()
    created = int((moment - timedelta(hours=1)).timestamp())
    lines = []
    donations = select(Donation).where(
        Donation.drive_id == drive.id, Donation.status == DonationStatus.SUCCEEDED
    )
    for number, donation in enumerate(list(db.session.scalars(donations)), 1):
        donation.payment_intent_id = donation.payment_intent_id or f"pi_demo{number:04d}"
        donation.charge_id = donation.charge_id or f"ch_demo{number:04d}"
        fee = donation.amount_minor * 29 // 1000 + 30
        lines.append(
            _line(
                f"txn_demo{number:04d}",
                "charge",
                donation.amount_minor,
                fee,
                {
                    "id": donation.charge_id,
                    "object": "charge",
                    "payment_intent": donation.payment_intent_id,
                    "amount": donation.amount_minor,
                    "currency": drive.currency,
                },
                created,
                drive.currency,
            )
        )
    total = sum(line["net"] for line in lines)
    payout = {
        "id": "po_demo0001",
        "object": "payout",
        "amount": total,
        "currency": drive.currency,
        "status": "paid",
        "created": created,
        "arrival_date": int(moment.timestamp()),
    }
    lines.append(
        _line("txn_demopayout", "payout", -total, 0, {"id": "po_demo0001"}, created, drive.currency)
    )
    reconcile.sync_payout(_Recorded(payout, lines), payout["id"], payout)


class _Recorded:
    """Serves the recorded objects above the way the Stripe gateway serves live ones."""

    def __init__(self, payout: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        self.payout, self.lines = payout, lines

    def retrieve_payout(self, payout_id: str) -> dict[str, Any]:
        return self.payout

    def list_payouts(self, created_since: int | None = None) -> Any:
        return iter([self.payout])

    def list_balance_transactions(self, payout_id: str) -> Any:
        return iter(self.lines)
