"""CSV exports: UTF-8, one header row, amounts in major units beside their currency, and
safe to open in a spreadsheet (no cell is read as a formula)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from extensions import db
from finance import free_text
from finance.models import BalanceTransaction, Disbursement, OfflineGift, Payout
from finance.services import ledger_rows
from fundraising.models import Donation, Drive
from fundraising.money import to_major_string
from fundraising.services import donor_details

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def safe_cell(value: Any) -> str:
    """Text that a spreadsheet shows as text: formula-like cells get a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def write_csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """Stream CSV text, a chunk per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()


def donations_rows(
    drive_id: int | None, start: datetime | None, end: datetime | None
) -> Iterator[list[Any]]:
    """Donations (donor email included: finance only), oldest first; a gift outside Stripe
    with its method, the date received and its reference."""
    query = (
        select(Donation, Drive.slug, OfflineGift)
        .join(Drive, Drive.id == Donation.drive_id)
        .outerjoin(OfflineGift, OfflineGift.donation_id == Donation.id)
    )
    if drive_id is not None:
        query = query.where(Donation.drive_id == drive_id)
    if start is not None:
        query = query.where(Donation.created_at >= start)
    if end is not None:
        query = query.where(Donation.created_at < end)
    rows = db.session.execute(query.order_by(Donation.created_at)).yield_per(1000)
    for donation, slug, offline in rows:
        details = donor_details(donation)
        yield [
            donation.id,
            slug,
            donation.created_at,
            donation.status.value,
            to_major_string(donation.amount_minor, donation.currency),
            to_major_string(donation.fee_cover_minor, donation.currency),
            to_major_string(donation.amount_refunded_minor, donation.currency),
            donation.dispute_status.value if donation.dispute_status else "",
            donation.currency.upper(),
            details["name"],
            details["email"],
            "yes" if donation.is_anonymous else "no",
            donation.message,
            donation.payment_intent_id,
            donation.method.value,
            offline.received_on.isoformat() if offline else "",
            free_text.gift_text(offline, "reference") if offline else "",
        ]


DONATIONS_HEADER = [
    "donation_id",
    "drive",
    "created_at",
    "status",
    "amount",
    "fee_covered",
    "refunded",
    "dispute",
    "currency",
    "donor_name",
    "donor_email",
    "anonymous",
    "message",
    "payment_intent",
    "method",
    "received_on",
    "reference",
]


def payouts_rows() -> Iterator[list[Any]]:
    """Each payout, then each of its lines."""
    for payout in db.session.scalars(select(Payout).order_by(Payout.created_at)):
        yield [
            "payout",
            payout.id,
            payout.created_at,
            payout.status,
            to_major_string(payout.amount_minor, payout.currency),
            "",
            "",
            payout.currency.upper(),
            "",
            "",
            free_text.bank_reference(payout) or "",
        ]
        lines = db.session.scalars(
            select(BalanceTransaction)
            .where(BalanceTransaction.payout_id == payout.id)
            .order_by(BalanceTransaction.created_at)
        )
        for line in lines:
            yield [
                "line",
                line.id,
                line.created_at,
                line.type,
                to_major_string(line.amount_minor, line.currency),
                to_major_string(line.fee_minor, line.currency),
                to_major_string(line.net_minor, line.currency),
                line.currency.upper(),
                line.donation_id or "",
                line.match_status,
                line.exchange_rate or "",
            ]


PAYOUTS_HEADER = [
    "kind",
    "id",
    "created_at",
    "status_or_type",
    "amount",
    "fee",
    "net",
    "currency",
    "donation_id",
    "match",
    "bank_reference_or_rate",
]


def disbursements_rows() -> Iterator[list[Any]]:
    """Disbursements with case codes only; a payment reference is opened (an audited read of
    its case), or says it was purged with the case."""
    query = select(Disbursement, Drive.slug).join(Drive, Drive.id == Disbursement.drive_id)
    for item, slug in db.session.execute(query.order_by(Disbursement.requested_at)):
        yield [
            item.id,
            item.case_code,
            slug,
            item.category.value,
            item.status.value,
            to_major_string(item.amount_minor, item.currency),
            item.currency.upper(),
            item.requested_at,
            item.decided_at,
            item.paid_at,
            free_text.open_text(item, "payment-reference", item.payment_reference_enc),
        ]


DISBURSEMENTS_HEADER = [
    "disbursement_id",
    "case_code",
    "drive",
    "category",
    "status",
    "amount",
    "currency",
    "requested_at",
    "decided_at",
    "paid_at",
    "payment_reference",
]


def ledger_csv_rows() -> Iterator[list[Any]]:
    """The per-drive restricted-fund ledger."""
    for row in ledger_rows():
        currency = row.drive.currency
        yield [row.drive.slug, currency.upper()] + [
            to_major_string(value, currency)
            for value in (
                row.gross,
                row.fees,
                row.refunds,
                row.disputes,
                row.net,
                row.disbursed,
                row.committed,
                row.available,
                row.outside_stripe,
            )
        ]


LEDGER_HEADER = [
    "drive",
    "currency",
    "gross",
    "fees",
    "refunds",
    "disputes",
    "net",
    "disbursed",
    "committed",
    "available",
    "outside_stripe",
]
