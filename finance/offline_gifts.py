"""Gifts outside Stripe: finance records a bank transfer, cheque, cash, or a card payment above
the online limit arranged by hand, against a drive; a second finance user may reverse it.

The money is counted by fundraising (fundraising/offline_gifts.py) as a donation like any other,
so the drive's totals, progress.json, this ledger, the charts and the exports move together.
What finance keeps beside it (the date received, the sealed reference, who recorded and who
reversed it) is an `OfflineGift`. Audit records carry the amount, currency and method only:
never the reference, the donor's name or the reason, which may name people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

import audit
from accounts.models import Role, User
from extensions import db
from finance import free_text
from finance.models import OfflineGift
from finance.services import FinanceError, NotAllowed
from fundraising import offline_gifts as counting
from fundraising.drives import FundraisingError
from fundraising.models import Donation, DonationStatus, Drive, DriveStatus, GiftMethod
from fundraising.services import donor_details
from security.clock import now

REFERENCE_MAX = 120
DONOR_NAME_MAX = 120
REASON_MAX = 500
# "Not in the future" for whoever enters it: the date is already today somewhere (UTC+14).
LATEST_TIME_ZONE = timedelta(hours=14)


class GiftEntryError(FinanceError):
    """A gift's entry is refused; `field` names the form field it is about, if one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GiftEntry:
    """A gift outside Stripe as finance enters it, parsed (amount in the drive's currency)."""

    amount_minor: int
    method: GiftMethod
    received_on: date
    reference: str
    donor_name: str = ""


@dataclass(frozen=True)
class GiftLine:
    """A recorded gift as the drive's ledger page lists it, its text opened."""

    gift: OfflineGift
    donation: Donation
    reference: str | None
    donor_name: str | None
    reversal_reason: str | None

    @property
    def is_reversed(self) -> bool:
        return self.donation.status is DonationStatus.CANCELED


def latest_received_on() -> date:
    """The latest date a gift can have been received: today, wherever in the world it is."""
    return (now() + LATEST_TIME_ZONE).date()


def _check_entry(drive: Drive | None, entry: GiftEntry, recorder: User) -> Drive:
    if recorder.role is not Role.FINANCE:
        raise NotAllowed(_("Only finance staff record gifts outside Stripe."))
    if drive is None:
        raise GiftEntryError(_("There is no such drive."))
    if drive.status is DriveStatus.DRAFT:
        raise GiftEntryError(_("This drive is a draft: open it before recording gifts to it."))
    if entry.amount_minor <= 0:
        raise GiftEntryError(_("The amount must be more than zero."), "amount")
    if not entry.method.is_offline:
        raise GiftEntryError(
            _(
                "Choose how the gift was made: bank transfer, cheque, cash or card arranged "
                "by hand."
            ),
            "method",
        )
    if entry.received_on > latest_received_on():
        raise GiftEntryError(_("The date received cannot be in the future."), "received_on")
    reference = entry.reference.strip()
    if not reference:
        raise GiftEntryError(
            _("Give a reference (the bank line, cheque number or receipt number)."), "reference"
        )
    if len(reference) > REFERENCE_MAX:
        raise GiftEntryError(
            _("Keep the reference to %(count)d characters.", count=REFERENCE_MAX), "reference"
        )
    if len(entry.donor_name.strip()) > DONOR_NAME_MAX:
        raise GiftEntryError(
            _("Keep the name to %(count)d characters.", count=DONOR_NAME_MAX), "donor_name"
        )
    return drive


def record_offline_gift(drive_id: int, entry: GiftEntry, recorder: User) -> OfflineGift:
    """Record the gift and count it in the drive's totals, in the caller's transaction
    (audited). A closed or ended drive takes it too: money for it often arrives late."""
    drive = _check_entry(db.session.get(Drive, drive_id), entry, recorder)
    try:
        donation = counting.record_offline_gift(
            drive, entry.amount_minor, entry.method, entry.donor_name
        )
    except FundraisingError as error:
        raise GiftEntryError(str(error), "amount") from error
    gift = OfflineGift(
        donation_id=donation.id,
        donation=donation,
        drive_id=drive.id,
        received_on=entry.received_on,
        recorded_by_id=recorder.id,
        recorded_at=now(),
    )
    free_text.seal_gift_text(gift, "reference", entry.reference.strip())
    db.session.add(gift)
    db.session.flush()
    audit.record(
        recorder,
        "offline_gift.recorded",
        "donation",
        donation.id,
        amount_minor=donation.amount_minor,
        currency=donation.currency,
        method=entry.method.value,
    )
    return gift


def reverse_offline_gift(donation_id: str, reverser: User, reason: str) -> OfflineGift:
    """Take a recorded gift back out of every total: by a finance user other than the one who
    recorded it, with a reason (sealed), audited. Refused with nothing changed otherwise."""
    if reverser.role is not Role.FINANCE:
        raise NotAllowed(_("Only finance staff reverse gifts outside Stripe."))
    gift = db.session.get(OfflineGift, donation_id)
    if gift is None:
        raise FinanceError(_("There is no such gift outside Stripe."))
    if gift.recorded_by_id == reverser.id:
        raise NotAllowed(_("You recorded this gift, so another finance user must reverse it."))
    reason = reason.strip()
    if not reason:
        raise FinanceError(_("Give a reason for the reversal."))
    if len(reason) > REASON_MAX:
        raise FinanceError(_("Keep the reason to %(count)d characters.", count=REASON_MAX))
    try:
        # Locks the donation's row and re-reads it: of two reversals, the second finds it
        # already reversed here and changes nothing.
        donation = counting.reverse_offline_gift(donation_id)
    except FundraisingError as error:
        raise FinanceError(str(error)) from error
    gift.reversed_by_id = reverser.id
    gift.reversed_at = now()
    free_text.seal_gift_text(gift, "reversal-reason", reason)
    method, currency = db.session.execute(
        select(Donation.method, Donation.currency).where(Donation.id == donation_id)
    ).one()
    audit.record(
        reverser,
        "offline_gift.reversed",
        "donation",
        donation_id,
        amount_minor=donation.amount_minor,
        currency=currency,
        method=method.value,
    )
    return gift


def gifts_for(drive_id: int) -> list[GiftLine]:
    """A drive's gifts outside Stripe, newest first, with their text opened (finance only)."""
    rows = db.session.execute(
        select(OfflineGift, Donation)
        .join(Donation, Donation.id == OfflineGift.donation_id)
        .where(OfflineGift.drive_id == drive_id)
        .order_by(OfflineGift.recorded_at.desc(), OfflineGift.donation_id)
    ).all()
    return [
        GiftLine(
            gift=gift,
            donation=donation,
            reference=free_text.gift_text(gift, "reference"),
            donor_name=donor_details(donation)["name"],
            reversal_reason=free_text.gift_text(gift, "reversal-reason"),
        )
        for gift, donation in rows
    ]
