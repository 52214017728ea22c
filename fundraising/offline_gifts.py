"""Gifts outside Stripe, counted: a bank transfer, cheque, cash or a card payment arranged by
hand, recorded by finance (finance/offline_gifts.py holds who may, the reference, and the two
people a reversal needs).

Such a gift is a `Donation` with its `method`, written `succeeded` through the same path that
moves a drive's totals for a card gift, so progress.json, the finance ledger, the charts, the
exports and `recount` all count it one way. A reversal locks the donation's row, re-reads its
state under the lock and moves it to `canceled` (out of every total), like any other change of
a gift; a second reversal then finds it canceled and changes nothing."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from extensions import db
from fundraising.drives import FundraisingError
from fundraising.locked_rows import LockedDonation, lock_for_intent
from fundraising.models import Donation, DonationStatus, Drive, GiftMethod, new_donation_id
from fundraising.money import MAX_MINOR
from fundraising.services import reverse_gift, seal_donor_detail, set_payment_status
from security.clock import now


class NotReversible(FundraisingError):
    """No such gift outside Stripe, or it was already reversed."""


def record_offline_gift(
    drive: Drive, amount_minor: int, method: GiftMethod, donor_name: str = ""
) -> Donation:
    """Write the gift as succeeded and move the drive's totals by it, in the caller's
    transaction. Anonymous on the public page: the donor gave no consent to show a name."""
    if not method.is_offline:
        raise FundraisingError(_("A gift through Stripe is recorded by Stripe's webhook."))
    if amount_minor <= 0:
        raise FundraisingError(_("The amount must be more than zero."))
    if amount_minor > MAX_MINOR:
        raise FundraisingError(_("That amount is too large."))
    donation_id = new_donation_id()  # known before the insert: the sealed name binds to it
    moment = now()
    donation = Donation(
        id=donation_id,
        drive_id=drive.id,
        drive=drive,
        amount_minor=amount_minor,
        fee_cover_minor=0,
        currency=drive.currency,
        status=DonationStatus.PENDING,
        method=method,
        is_anonymous=True,
        amount_refunded_minor=0,
        disputed_minor=0,
        name_sealed=seal_donor_detail(donation_id, "name", donor_name),
        created_at=moment,
        updated_at=moment,
    )
    db.session.add(donation)
    set_payment_status(donation, DonationStatus.SUCCEEDED)
    return donation


def reverse_offline_gift(donation_id: str) -> LockedDonation:
    """Take a gift recorded outside Stripe out of its drive's totals: its row locked and
    re-read first, so two reversals (or a reversal and anything else) apply once."""
    donation = lock_for_intent(None, donation_id)
    if donation is None:
        raise NotReversible(_("There is no such gift."))
    method = db.session.scalar(select(Donation.method).where(Donation.id == donation_id))
    if method is None or not method.is_offline:
        raise NotReversible(
            _("A gift made through Stripe is refunded in Stripe, not reversed here.")
        )
    if donation.status is DonationStatus.CANCELED:
        raise NotReversible(_("This gift has already been reversed; nothing was changed."))
    reverse_gift(donation)
    donation.save()
    return donation
