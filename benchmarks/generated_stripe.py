"""A Stripe reader that serves generated payouts and balance transactions, each line built from
Stripe's recorded example objects (tests/finance/stripe_examples.json: a balance transaction,
charge, refund, dispute and payout) with new ids, amounts and types, and parsed from JSON text
as the Stripe library would parse an answer. Line k belongs to gift k (pi_bench_k / ch_bench_k).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import common

SYNC_DRIVES = 10  # gifts k belong to sync drive k % 10; drive slot 0 is in EUR
RATE = 1.08  # USD per EUR, as Stripe's exchange_rate
EXAMPLES: dict[str, Any] = json.loads(
    (common.ROOT / "tests" / "finance" / "stripe_examples.json").read_text(encoding="utf-8")
)["resources"]
# Each object is parsed from its recorded JSON text, as the Stripe library parses an answer.
RECORDED = {kind: json.dumps(value) for kind, value in EXAMPLES.items()}


def recorded(kind: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(RECORDED[kind])
    return result


CREATED = 1_795_000_000


# --- the recorded lines, generated ------------------------------------------------------------


def gift_amount(k: int) -> int:
    return 500 + (k * 37) % 2500


def is_euro(k: int) -> bool:
    return k % SYNC_DRIVES == 0


def spec(k: int) -> tuple[str, int, int]:
    """Line k's type, amount and fee in the settlement currency (USD)."""
    amount = gift_amount(k)
    settled = round(amount * RATE) if is_euro(k) else amount
    if k % 200 == 17:
        return "stripe_fee", -150, 0
    if k % 100 == 29:
        return "unmatched", 1000, 59
    if k % 100 == 13:
        return "adjustment", -settled, 1500
    if k % 50 == 7:
        return "refund", -settled, 0
    return "charge", settled, settled * 29 // 1000 + 30


class GeneratedStripe:
    """A StripeReader serving payouts whose lines are Stripe's example objects, re-stamped."""

    def __init__(self, lines: int, payouts: int) -> None:
        self.per_payout = lines // payouts - 1  # plus the payout's own line
        self.payouts = payouts

    def _range(self, index: int) -> range:
        return range(index * self.per_payout, (index + 1) * self.per_payout)

    def _payout(self, index: int) -> dict[str, Any]:
        net = 0
        for k in self._range(index):
            _, amount, fee = spec(k)
            net += amount - fee
        payout = recorded("payout")
        payout.update(
            id=f"po_bench_{index:04d}",
            amount=net,
            status="paid",
            created=CREATED + index * 86400,
            arrival_date=CREATED + index * 86400 + 2 * 86400,
            balance_transaction=f"txn_po_bench_{index:04d}",
        )
        return payout

    def retrieve_payout(self, payout_id: str) -> dict[str, Any]:
        return self._payout(int(payout_id.rsplit("_", 1)[1]))

    def list_payouts(self, created_since: int | None = None) -> Iterator[dict[str, Any]]:
        for index in reversed(range(self.payouts)):
            yield self._payout(index)

    def list_balance_transactions(self, payout_id: str) -> Iterator[dict[str, Any]]:
        index = int(payout_id.rsplit("_", 1)[1])
        for k in self._range(index):
            yield self._line(k)
        payout = self._payout(index)
        yield self._stamp(payout["balance_transaction"], "payout", -payout["amount"], 0, payout_id)

    def _stamp(self, line_id: str, kind: str, amount: int, fee: int, source: Any) -> dict[str, Any]:
        line = recorded("balance_transaction")
        line.update(
            id=line_id,
            type=kind,
            reporting_category=kind,
            amount=amount,
            fee=fee,
            net=amount - fee,
            currency="usd",
            source=source,
            created=CREATED,
        )
        return line

    def _line(self, k: int) -> dict[str, Any]:
        kind, amount, fee = spec(k)
        intent, charge_id = f"pi_bench_{k:08d}", f"ch_bench_{k:08d}"
        currency = "eur" if is_euro(k) else "usd"
        source: Any
        if kind == "stripe_fee":
            source = None
        elif kind == "refund":
            source = recorded("refund")
            source.update(id=f"re_bench_{k:08d}", charge=charge_id, amount=gift_amount(k))
        elif kind == "adjustment":
            source = recorded("dispute")
            source.update(
                id=f"dp_bench_{k:08d}", charge=charge_id, payment_intent=intent, status="lost"
            )
        else:
            source = recorded("charge")
            if kind == "unmatched":
                intent, charge_id, kind = f"pi_nobody_{k:08d}", f"ch_nobody_{k:08d}", "charge"
            source.update(
                id=charge_id, payment_intent=intent, amount=gift_amount(k), currency=currency
            )
        line = self._stamp(f"txn_bench_{k:08d}", kind, amount, fee, source)
        if is_euro(k) and kind != "stripe_fee" and not intent.startswith("pi_nobody"):
            line["exchange_rate"] = RATE
        return line


def expected_counts(lines: int, payouts: int) -> dict[str, int]:
    reader = GeneratedStripe(lines, payouts)
    counts = {"matched": 0, "unmatched": 0, "not_applicable": payouts}
    for k in range(reader.per_payout * payouts):
        kind = spec(k)[0]
        if kind == "stripe_fee":
            counts["not_applicable"] += 1
        elif kind == "unmatched":
            counts["unmatched"] += 1
        else:
            counts["matched"] += 1
    return counts
