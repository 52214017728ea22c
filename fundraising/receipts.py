"""Receipts the app emails for gifts through Stripe, when SMTP is configured.

A gift's receipt is issued in the transaction that moves the gift to `succeeded`
(`services.record_payment`, the one path the donate answer, the thank-you page, the webhook
and the sweeper share), while that transaction holds the donation's row lock: so two of them
applying the same payment issue one receipt, and a receipt exists only if the gift's success
committed. Its number comes from the organisation's one sequence (`receipt_counters`): the
UPDATE that takes a number holds the counter's row lock until the same commit, so concurrent
gifts queue there briefly, no two get one number, and a transaction that rolls back gives its
number back (no gaps). The mail itself is a job started after the commit
(fundraising/receipt_mail.py), never sent from the request; finance can send a copy.

No receipt for a gift without an email address, nor for a gift recorded outside Stripe."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import contains_eager

import audit
from accounts import mail
from accounts.models import User
from extensions import db
from fundraising.drives import FundraisingError
from fundraising.models import (
    RECEIPT_SEQUENCE,
    Donation,
    GiftMethod,
    Receipt,
    ReceiptCounter,
)
from security import jobs
from security.clock import now

SEND_TASK = "receipt.send"
ORIGINAL, COPY = 0, 1  # the job's second argument: a job's arguments are ids and numbers only
PER_PAGE = 50
NUMBER_DIGITS = 6

DONATIONS = cast(Table, Donation.__table__)
RECEIPTS = cast(Table, Receipt.__table__)
COUNTERS = cast(Table, ReceiptCounter.__table__)


class ReceiptError(FundraisingError):
    """No receipt to send, or no way to send it; the message says which."""


# Core statements, built once: they run on the webhook's path, inside its transaction.
GIFT_FOR_RECEIPT = (
    select(
        DONATIONS.c.email_sealed.is_not(None).label("has_email"),
        DONATIONS.c.method,
        RECEIPTS.c.id.label("receipt_id"),
    )
    .select_from(DONATIONS.outerjoin(RECEIPTS, RECEIPTS.c.donation_id == DONATIONS.c.id))
    .where(DONATIONS.c.id == bindparam("key"))
)


def _taking_a_number(upsert: Any) -> Any:
    """Take the sequence's next number: one statement that creates the counter at 1 when it
    is missing (a database built without the migrations) and otherwise moves it on by one,
    locking its row until the transaction ends."""
    return (
        upsert(COUNTERS)
        .values(name=bindparam("sequence"), next_value=2)
        .on_conflict_do_update(
            index_elements=[COUNTERS.c.name], set_={"next_value": COUNTERS.c.next_value + 1}
        )
        .returning((COUNTERS.c.next_value - 1).label("number"))
    )


TAKE_NUMBER = {
    "postgresql": _taking_a_number(postgresql.insert),
    "sqlite": _taking_a_number(sqlite.insert),
}
INSERT_RECEIPT = (
    insert(RECEIPTS)
    .values(
        donation_id=bindparam("donation_id"),
        number=bindparam("number"),
        issued_at=bindparam("issued_at"),
    )
    .returning(RECEIPTS.c.id)
)


def formatted_number(number: int) -> str:
    """A receipt number as printed: RECEIPT_PREFIX and the number, zero-padded ("SP-000042")."""
    return f"{current_app.config['RECEIPT_PREFIX']}{number:0{NUMBER_DIGITS}d}"


def are_sent() -> bool:
    """Whether the app emails receipts (SMTP is configured)."""
    return mail.is_configured()


def issue_receipt(donation_id: str) -> int | None:
    """Number and record the receipt of a gift that has just succeeded, and start its mail
    once the caller commits. The caller holds the donation's row lock (`record_payment`).
    Returns the receipt's id, or None when the gift gets none: SMTP is not configured, it
    has no email address, it was not made through Stripe, or it already has its receipt."""
    if not are_sent():
        return None
    connection = db.session.connection()
    gift = connection.execute(GIFT_FOR_RECEIPT, {"key": donation_id}).first()
    if gift is None or not gift.has_email or gift.method is not GiftMethod.STRIPE:
        return None
    if gift.receipt_id is not None:
        return None
    # The counter's lock is taken last, so it is held only for the rest of this transaction.
    number = connection.execute(
        TAKE_NUMBER[connection.dialect.name], {"sequence": RECEIPT_SEQUENCE}
    ).scalar_one()
    receipt_id = int(
        connection.execute(
            INSERT_RECEIPT, {"donation_id": donation_id, "number": number, "issued_at": now()}
        ).scalar_one()
    )
    jobs.enqueue(SEND_TASK, receipt_id, ORIGINAL)
    return receipt_id


def resend_receipt(receipt_id: int, actor: User) -> Receipt:
    """Send the donor a copy of their receipt (same number, marked as a copy), once the
    caller commits; audited, with no personal data."""
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None:
        raise ReceiptError(_("There is no such receipt."))
    if not mail.is_configured():
        raise ReceiptError(
            _("Email is not set up (SMTP_HOST and SMTP_FROM), so no receipt can be sent.")
        )
    if receipt.donation.counted_minor == 0:
        raise ReceiptError(
            _(
                "This gift was refunded in full or lost to a dispute: its receipt no longer "
                "stands, so no copy was sent."
            )
        )
    jobs.enqueue(SEND_TASK, receipt.id, COPY)
    audit.record(
        actor,
        "receipt.resent",
        "receipt",
        formatted_number(receipt.number),
        drive=receipt.donation.drive_id,
    )
    return receipt


def receipts_for(drive_id: int, page: int = 1) -> Pagination:
    """A drive's receipts for finance, newest first, PER_PAGE at a time, with their gifts."""
    return db.paginate(
        select(Receipt)
        .join(Receipt.donation)
        .options(contains_eager(Receipt.donation))
        .where(Donation.drive_id == drive_id)
        .order_by(Receipt.number.desc()),
        page=page,
        per_page=PER_PAGE,
        error_out=False,
    )
