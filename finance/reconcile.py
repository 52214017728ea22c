"""Stripe payouts and balance transactions: import (idempotent), match to donations, reconcile."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import islice
from typing import Any, NamedTuple, Protocol

from flask_babel import gettext as _
from sqlalchemy import insert, select, text, update

import audit
from accounts.models import User
from extensions import db
from finance import free_text
from finance.models import BalanceTransaction, DriveLedger, Payout
from finance.services import FinanceError, drive_ledger
from fundraising.models import Donation, Drive
from fundraising.money import exponent
from security.clock import now

BATCH = 500
# PostgreSQL plans the per-batch look-up of stored lines from its statistics; a sync that loads
# many lines into a table the statistics think is small gets a sequential scan per batch (100,000
# lines took 27 s of look-ups instead of under one). So a sync refreshes them as it grows the
# table, as one should after any bulk load; autovacuum would, but only a minute or more later.
ANALYZE_EVERY = 10_000
MATCHABLE = {"charge", "payment", "refund", "payment_refund", "adjustment"}


class StripeReader(Protocol):
    """What reconciliation needs from the Stripe gateway (recorded JSON in tests)."""

    def retrieve_payout(self, payout_id: str) -> dict[str, Any]: ...

    def list_payouts(self, created_since: int | None = None) -> Iterator[dict[str, Any]]: ...

    def list_balance_transactions(self, payout_id: str) -> Iterator[dict[str, Any]]: ...


def _when(unix: int | None) -> datetime | None:
    return datetime.fromtimestamp(unix, tz=UTC) if unix else None


def upsert_payout(data: dict[str, Any]) -> Payout:
    """Store or update a payout from Stripe's object."""
    payout = db.session.get(Payout, data["id"])
    if payout is None:
        payout = Payout(
            id=data["id"], created_at=_when(data.get("created")) or now(), lines_net_minor=0
        )
        db.session.add(payout)
    payout.amount_minor = int(data["amount"])
    payout.currency = str(data["currency"]).lower()
    payout.status = str(data.get("status") or "pending")
    payout.arrival_date = _when(data.get("arrival_date"))
    payout.failure_message = data.get("failure_message")
    return payout


def _source(data: dict[str, Any]) -> dict[str, Any]:
    source = data.get("source")
    return source if isinstance(source, dict) else {"id": source}


def _keys(source: dict[str, Any]) -> tuple[str | None, str | None]:
    """The PaymentIntent and charge ids a line's source points to."""
    intent = source.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    charge = source.get("charge")
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    if str(source.get("id", "")).startswith(("ch_", "py_")):
        charge_id = source["id"]
    return intent_id, charge_id


def to_drive_currency(fee_minor: int, line: dict[str, Any], drive: Drive) -> int:
    """A fee in the settlement currency, moved to the drive's currency with Stripe's rate."""
    settlement = str(line["currency"]).lower()
    if settlement == drive.currency:
        return fee_minor
    rate = Decimal(str(line.get("exchange_rate") or "0"))
    if rate <= 0:
        return 0
    major = Decimal(fee_minor).scaleb(-exponent(settlement)) / rate
    return int(major.scaleb(exponent(drive.currency)).quantize(Decimal(1), ROUND_HALF_EVEN))


def import_balance_transactions(lines: Iterable[dict[str, Any]], payout: Payout | None) -> int:
    """Store new lines (each id once), match them to donations; return how many were new."""
    created = 0
    drives: dict[int, Drive] | None = None
    iterator = iter(lines)
    while batch := list(islice(iterator, BATCH)):
        stored: dict[str, str | None] = {
            line_id: payout_id
            for line_id, payout_id in db.session.execute(
                select(BalanceTransaction.id, BalanceTransaction.payout_id).where(
                    BalanceTransaction.id.in_([line["id"] for line in batch])
                )
            )
        }
        orphans = [line_id for line_id, payout_id in stored.items() if payout_id is None]
        if payout is not None and orphans:
            db.session.execute(
                update(BalanceTransaction)
                .where(BalanceTransaction.id.in_(orphans))
                .values(payout_id=payout.id)
                .execution_options(synchronize_session=False)
            )
        # Lines stored before are not read again: a repeated sync costs one query per batch.
        batch = [line for line in batch if line["id"] not in stored]
        if not batch:
            continue
        keys = {line["id"]: _keys(_source(line)) for line in batch}
        by_intent, by_charge = _donations_for(keys.values())
        if drives is None:
            drives = {drive.id: drive for drive in db.session.scalars(select(Drive))}
        rows: list[dict[str, Any]] = []
        charges_found: dict[str, str] = {}
        fees: dict[int, int] = {}
        for line in batch:
            intent_id, charge_id = keys[line["id"]]
            donation = by_intent.get(intent_id) or by_charge.get(charge_id)
            line_type = str(line["type"])
            source = _source(line)
            fee_minor = int(line.get("fee") or 0)
            row: dict[str, Any] = {
                "id": line["id"],
                "payout_id": payout.id if payout else None,
                "type": line_type,
                "reporting_category": line.get("reporting_category"),
                "amount_minor": int(line["amount"]),
                "fee_minor": fee_minor,
                "net_minor": int(line["net"]),
                "currency": str(line["currency"]).lower(),
                "exchange_rate": str(line["exchange_rate"]) if line.get("exchange_rate") else None,
                "source_id": source.get("id"),
                "source_amount_minor": source.get("amount") if donation else None,
                "source_currency": str(source.get("currency", "")).lower() or None,
                "created_at": _when(line.get("created")) or now(),
                "match_status": "not_applicable",
                "donation_id": None,
                "drive_id": None,
                "drive_fee_minor": 0,
            }
            if line_type in MATCHABLE:
                row["match_status"] = "matched" if donation else "unmatched"
            if donation is not None:
                row["donation_id"] = donation.id
                row["drive_id"] = donation.drive_id
                if donation.charge_id is None and charge_id:
                    charges_found[donation.id] = charge_id
                drive = drives[donation.drive_id]
                row["drive_fee_minor"] = to_drive_currency(fee_minor, line, drive)
                fees[drive.id] = fees.get(drive.id, 0) + row["drive_fee_minor"]
            rows.append(row)
        # One multi-row INSERT per batch (no ORM object per line: 10,000 lines a payout).
        # render_nulls: every row has the same columns, so the ORM does not split the batch
        # wherever a different set of values is None (it did: 4.5 rows per INSERT).
        db.session.execute(insert(BalanceTransaction).execution_options(render_nulls=True), rows)
        if charges_found:
            db.session.execute(
                update(Donation),
                [{"id": key, "charge_id": value} for key, value in charges_found.items()],
            )
        _add_fees(fees)
        if (created + len(rows)) // ANALYZE_EVERY > created // ANALYZE_EVERY:
            _refresh_statistics()
        created += len(rows)
    return created


def _refresh_statistics() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("ANALYZE balance_transactions"))


class _DonationKeys(NamedTuple):
    id: str
    drive_id: int
    payment_intent_id: str | None
    charge_id: str | None


def _donations_for(
    keys: Iterable[tuple[str | None, str | None]],
) -> tuple[dict[str | None, _DonationKeys], dict[str | None, _DonationKeys]]:
    """The donations behind a batch's PaymentIntents and charges (only the columns matching
    needs), by intent id and by charge id."""
    keys = list(keys)
    intents = {intent for intent, _ in keys if intent}
    charges = {charge for _, charge in keys if charge}
    columns = (Donation.id, Donation.drive_id, Donation.payment_intent_id, Donation.charge_id)
    by_intent: dict[str | None, _DonationKeys] = {}
    by_charge: dict[str | None, _DonationKeys] = {}
    if intents:
        for found in db.session.execute(
            select(*columns).where(Donation.payment_intent_id.in_(intents))
        ):
            by_intent[found.payment_intent_id] = _DonationKeys(*found)
    if charges:
        for found in db.session.execute(select(*columns).where(Donation.charge_id.in_(charges))):
            by_charge[found.charge_id] = _DonationKeys(*found)
    return by_intent, by_charge


def _add_fees(fees: dict[int, int]) -> None:
    """Add a batch's fees to each drive's ledger: one relative UPDATE per drive, not per line
    (a concurrent sync or approval changing the same row loses nothing)."""
    for drive_id, amount in sorted(fees.items()):
        if amount:
            drive_ledger(drive_id)
            db.session.execute(
                update(DriveLedger)
                .where(DriveLedger.drive_id == drive_id)
                .values(fees_minor=DriveLedger.fees_minor + amount)
            )


def _lines_net(payout: Payout) -> int:
    rows = db.session.scalars(
        select(BalanceTransaction.net_minor).where(
            BalanceTransaction.payout_id == payout.id, BalanceTransaction.type != "payout"
        )
    )
    return sum(rows)


def sync_payout(
    reader: StripeReader, payout_id: str, payout_data: dict[str, Any] | None = None
) -> Payout:
    """Fetch a payout and all its balance transactions; safe to run any number of times."""
    payout = upsert_payout(payout_data or reader.retrieve_payout(payout_id))
    db.session.flush()
    import_balance_transactions(reader.list_balance_transactions(payout.id), payout)
    payout.lines_net_minor = _lines_net(payout)
    payout.synced_at = now()
    return payout


def sync_since(reader: StripeReader, since: datetime | None) -> list[Payout]:
    """Sync every payout created since a time (all of them without one); commits per payout."""
    synced = []
    created_since = int(since.timestamp()) if since else None
    for data in reader.list_payouts(created_since):
        synced.append(sync_payout(reader, data["id"], data))
        db.session.commit()
    return synced


def mark_reconciled(payout: Payout, actor: User, bank_reference: str) -> None:
    """Record the bank statement reference for a payout whose lines add up exactly."""
    if not bank_reference.strip():
        raise FinanceError(_("Give the bank statement reference."))
    if payout.status != "paid":
        raise FinanceError(_("Only a paid payout can be reconciled."))
    if not payout.is_balanced:
        raise FinanceError(
            _(
                "The lines do not add up to the payout amount: sync it again or "
                "investigate before reconciling."
            )
        )
    free_text.seal_bank_reference(payout, bank_reference.strip()[:120])
    payout.reconciled_at = now()
    payout.reconciled_by_id = actor.id
    audit.record(
        actor,
        "payout.reconciled",
        "payout",
        payout.id,  # not the bank reference: free text that may name someone
        amount_minor=payout.amount_minor,
        currency=payout.currency,
    )


def unmatched_lines(limit: int = 50) -> list[BalanceTransaction]:
    """Lines that should belong to a donation but do not."""
    return list(
        db.session.scalars(
            select(BalanceTransaction)
            .where(BalanceTransaction.match_status == "unmatched")
            .order_by(BalanceTransaction.created_at.desc())
            .limit(limit)
        )
    )
