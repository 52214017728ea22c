"""Recorded Stripe JSON: Stripe's example objects with our ids, served by a fake gateway.

The shapes come from Stripe's published examples (stripe_examples.json beside this file), so the
reconciliation code reads what `BalanceTransaction.list(payout=..., expand=["data.source"])`
returns.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fundraising.stripe_gateway import StripeGateway
from tests.fundraising.stripe_objects import WEBHOOK_SECRET, new_id

EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("stripe_examples.json")).read_text(encoding="utf-8")
)["resources"]
CREATED = 1_795_000_000  # 2026-11-19, before the tests' clock
CATEGORY = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "adjustment": "dispute",
    "stripe_fee": "fee",
    "payout": "payout",
}


def example(kind: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[kind])


def charge(
    charge_id: str, *, intent_id: str | None, amount: int, currency: str = "usd"
) -> dict[str, Any]:
    """A Charge as an expanded balance-transaction source."""
    result = example("charge")
    result.update(
        id=charge_id, payment_intent=intent_id, amount=amount, currency=currency, captured=True
    )
    return result


def refund(
    refund_id: str, *, charge_id: str, intent_id: str | None, amount: int, currency: str = "usd"
) -> dict[str, Any]:
    result = example("refund")
    result.update(
        id=refund_id, charge=charge_id, payment_intent=intent_id, amount=amount, currency=currency
    )
    return result


def dispute(
    dispute_id: str,
    *,
    charge_id: str,
    intent_id: str | None,
    amount: int,
    currency: str = "usd",
    status: str = "lost",
) -> dict[str, Any]:
    result = example("dispute")
    result.update(
        id=dispute_id,
        charge=charge_id,
        payment_intent=intent_id,
        amount=amount,
        currency=currency,
        status=status,
    )
    return result


def payout(
    payout_id: str, *, amount: int, currency: str = "usd", status: str = "paid", created: int = 0
) -> dict[str, Any]:
    result = example("payout")
    result.update(
        id=payout_id,
        amount=amount,
        currency=currency,
        status=status,
        created=created or CREATED,
        arrival_date=(created or CREATED) + 2 * 86400,
        balance_transaction=new_id("txn"),
    )
    return result


def line(
    kind: str,
    *,
    amount: int,
    fee: int = 0,
    currency: str = "usd",
    source: dict[str, Any] | str | None = None,
    exchange_rate: float | None = None,
    line_id: str | None = None,
    created: int = CREATED,
) -> dict[str, Any]:
    """A balance transaction of a type (charge, refund, adjustment, stripe_fee, payout)."""
    result = example("balance_transaction")
    result.update(
        id=line_id or new_id("txn"),
        type=kind,
        reporting_category=CATEGORY.get(kind, kind),
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=currency,
        source=source,
        exchange_rate=exchange_rate,
        created=created,
        description=None,
        fee_details=(
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        ),
    )
    return result


def payout_line(payout_data: dict[str, Any]) -> dict[str, Any]:
    """The payout's own balance transaction (money leaving the balance for the bank)."""
    return line(
        "payout",
        amount=-payout_data["amount"],
        currency=payout_data["currency"],
        source=payout_data["id"],
        line_id=payout_data["balance_transaction"],
    )


class RecordedStripe(StripeGateway):
    """The real gateway's webhook check, with payouts and balance lines served from memory."""

    page_size = 100

    def __init__(self) -> None:
        super().__init__(None, WEBHOOK_SECRET)
        self.payouts: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, list[dict[str, Any]]] = {}
        self.listed: list[str] = []

    def add_payout(self, data: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Record a payout and its lines (the payout's own line is added at the end)."""
        self.payouts[data["id"]] = data
        self.lines[data["id"]] = [*lines, payout_line(data)]
        return data

    def retrieve_payout(self, payout_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.payouts[payout_id])

    def list_payouts(self, created_since: int | None = None) -> Iterator[dict[str, Any]]:
        ordered = sorted(self.payouts.values(), key=lambda item: -item["created"])
        for data in ordered:
            if created_since is None or data["created"] >= created_since:
                yield copy.deepcopy(data)

    def list_balance_transactions(self, payout_id: str) -> Iterator[dict[str, Any]]:
        self.listed.append(payout_id)
        lines = self.lines.get(payout_id, [])
        for start in range(0, len(lines), self.page_size):  # page by page, as Stripe answers
            yield from copy.deepcopy(lines[start : start + self.page_size])
