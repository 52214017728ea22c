"""Donations: the rules for a gift, its payment states, and the drive totals they move."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Table, bindparam, select, update

import audit
from extensions import db
from fundraising import receipts
from fundraising.drives import FundraisingError, is_open, maximum_minor
from fundraising.locked_rows import LockedDonation, lock_for_intent
from fundraising.models import (
    CountedGift,
    DisputeStatus,
    Donation,
    DonationStatus,
    Drive,
    DriveStatus,
    DriveTotals,
    new_donation_id,
)
from fundraising.money import exponent, fee_to_cover, format_money
from fundraising.sharing import clean_via
from fundraising.stripe_gateway import PaymentResult
from security import rotation
from security.clock import now
from security.sealing import seal, unseal

# A donation the state rules apply to: mapped, or a row a webhook locked (same attributes).
Gift = Donation | LockedDonation


class DriveNotOpen(FundraisingError):
    """The drive is not taking gifts (not started, ended, closed or a draft)."""


class AmountOutOfRange(FundraisingError):
    """The gift is below the drive's minimum or above the configured maximum."""


# Which payment states may follow which. Success is final for the payment itself (refunds and
# disputes are tracked beside it), so a late `payment_failed` never undoes a success. A gift
# recorded outside Stripe leaves `succeeded` one way only: finance's reversal (`reverse_gift`).
ALLOWED_TRANSITIONS: dict[DonationStatus, frozenset[DonationStatus]] = {
    DonationStatus.PENDING: frozenset(DonationStatus) - {DonationStatus.PENDING},
    DonationStatus.UNREACHABLE: frozenset(DonationStatus)
    - {DonationStatus.PENDING, DonationStatus.UNREACHABLE},
    DonationStatus.REQUIRES_ACTION: frozenset(
        {
            DonationStatus.PROCESSING,
            DonationStatus.SUCCEEDED,
            DonationStatus.FAILED,
            DonationStatus.CANCELED,
        }
    ),
    DonationStatus.PROCESSING: frozenset(
        {DonationStatus.SUCCEEDED, DonationStatus.FAILED, DonationStatus.CANCELED}
    ),
    DonationStatus.FAILED: frozenset(
        {
            DonationStatus.SUCCEEDED,
            DonationStatus.REQUIRES_ACTION,
            DonationStatus.PROCESSING,
            DonationStatus.CANCELED,
        }
    ),
    DonationStatus.CANCELED: frozenset(),
    DonationStatus.SUCCEEDED: frozenset(),
}

STRIPE_STATUS = {
    "succeeded": DonationStatus.SUCCEEDED,
    "requires_action": DonationStatus.REQUIRES_ACTION,
    "processing": DonationStatus.PROCESSING,
    "requires_capture": DonationStatus.PROCESSING,
    "requires_confirmation": DonationStatus.PROCESSING,
    "requires_payment_method": DonationStatus.FAILED,
    "canceled": DonationStatus.CANCELED,
}
DONOR_PURPOSES = ("name", "email")


# --- Donations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GiftRequest:
    """What the donor asked for, already parsed."""

    amount_minor: int
    cover_fees: bool = False
    name: str = ""
    email: str = ""
    is_anonymous: bool = False
    message: str = ""
    via_code: str | None = None  # the channel the drive link came through (sharing.py)
    wants_updates: bool = False  # "Email me updates about this drive" (needs the email)
    locale: str = ""  # the language the donor gave in: their receipt is written in it


def processing_fee(amount_minor: int, currency: str) -> int:
    """What covering Stripe's fee adds to a gift in this currency."""
    config = current_app.config
    fixed = 0 if exponent(currency) == 0 else int(config["STRIPE_FEE_FIXED_MINOR"])
    return fee_to_cover(amount_minor, int(config["STRIPE_FEE_BASIS_POINTS"]), fixed)


def start_donation(drive: Drive, gift: GiftRequest) -> Donation:
    """Check the rules and write the donation as `pending`, before Stripe is called."""
    if not is_open(drive):
        raise DriveNotOpen(_("This drive is not taking gifts: it has ended or not yet started."))
    if gift.amount_minor < drive.minimum_minor:
        minimum = format_money(drive.minimum_minor, drive.currency)
        raise AmountOutOfRange(
            _("The smallest gift to this drive is %(minimum)s.", minimum=minimum)
        )
    if gift.amount_minor > maximum_minor(drive.currency):
        largest = format_money(maximum_minor(drive.currency), drive.currency)
        raise AmountOutOfRange(
            _(
                "The largest gift we can take online is %(largest)s. Please contact us for more.",
                largest=largest,
            )
        )
    fee = processing_fee(gift.amount_minor, drive.currency) if gift.cover_fees else 0
    donation_id = new_donation_id()  # known before the insert: the sealed fields bind to it
    name, email = gift.name.strip(), gift.email.strip()
    donation = Donation(
        id=donation_id,
        drive_id=drive.id,
        drive=drive,
        amount_minor=gift.amount_minor + fee,
        fee_cover_minor=fee,
        currency=drive.currency,
        status=DonationStatus.PENDING,
        is_anonymous=gift.is_anonymous,
        message=gift.message.strip() or None,
        public_name=None if gift.is_anonymous else first_name(gift.name),
        via_code=clean_via(gift.via_code),
        amount_refunded_minor=0,  # set here, not by column defaults at a flush: the rules
        disputed_minor=0,  # read them before the first flush (seeding, tests)
        name_sealed=seal(name, _purpose(donation_id, "name")) if name else None,
        email_sealed=seal(email, _purpose(donation_id, "email")) if email else None,
        updates_consented_at=now() if gift.wants_updates and email else None,
        locale=gift.locale or None,
        created_at=now(),
        updated_at=now(),
    )
    db.session.add(donation)  # one INSERT, at the caller's commit
    return donation


def restore_donation(drive: Drive, donation_id: str, result: PaymentResult) -> Donation:
    """A donation written again from its PaymentIntent, after a restore lost the row (see
    fundraising/pending.py): pending, anonymous, with the receipt email Stripe kept. The
    caller then applies the intent through `record_payment`, which counts it."""
    email = (result.receipt_email or "").strip()
    donation = Donation(
        id=donation_id,
        drive_id=drive.id,
        drive=drive,
        amount_minor=result.amount_minor,
        fee_cover_minor=0,
        currency=result.currency,
        status=DonationStatus.PENDING,
        is_anonymous=True,
        amount_refunded_minor=0,
        disputed_minor=0,
        email_sealed=seal(email, _purpose(donation_id, "email")) if email else None,
        created_at=result.created_at or now(),
        updated_at=now(),
    )
    db.session.add(donation)
    return donation


def first_name(name: str) -> str | None:
    """The part of a donor's name shown publicly: the first word, shortened."""
    words = name.strip().split()
    return words[0][:40] if words else None


def _purpose(donation_id: str, field: str) -> str:
    """What a donor's name or email is sealed for: bound to the donation and the field."""
    return f"donation:{donation_id}:{field}"


def seal_donor_detail(donation_id: str, field: str, value: str) -> str | None:
    """A donor's name or email sealed for its donation, as `start_donation` seals them (None
    when empty): for a gift written elsewhere (fundraising/offline_gifts.py)."""
    value = value.strip()
    return seal(value, _purpose(donation_id, field)) if value else None


def _sealed_donors() -> Any:
    return select(Donation).where(
        Donation.name_sealed.is_not(None) | Donation.email_sealed.is_not(None)
    )


def check_donor_details(old: bytes, new: bytes) -> None:
    """Before a master-key rotation: every sealed name and email is under the old or new key."""
    for donation in db.session.scalars(_sealed_donors()):
        tokens = (donation.name_sealed, donation.email_sealed)
        rotation.check_sealed(tokens, "donors' details", old, new)


def reseal_donor_details(old: bytes, new: bytes, batch_size: int) -> int:
    """Re-seal donors' names and emails still under the old master key; the number moved."""
    moved = 0
    for number, donation in enumerate(db.session.scalars(_sealed_donors()).all(), start=1):
        for field in DONOR_PURPOSES:
            attribute = f"{field}_sealed"
            purpose = _purpose(donation.id, field)
            token = rotation.resealed(getattr(donation, attribute), purpose, old, new)
            if token is not None:
                setattr(donation, attribute, token)
                moved += 1
        if number % batch_size == 0:
            db.session.commit()
    db.session.commit()
    return moved


DONOR_DETAILS = rotation.Resealer(
    "donors' details", "sealed", check_donor_details, reseal_donor_details
)


def donor_details(donation: Donation) -> dict[str, str | None]:
    """The sealed name and email, opened (for the donor's own thank-you page and finance)."""
    return {
        field: unseal(value, _purpose(donation.id, field)) if value else None
        for field, value in (("name", donation.name_sealed), ("email", donation.email_sealed))
    }


def _contribution(donation: CountedGift) -> tuple[int, int, int, int, int]:
    return (
        donation.counted_minor,
        donation.counts_as_donor,
        donation.gross_counted_minor,
        donation.refunded_counted_minor,
        donation.lost_dispute_counted_minor,
    )


TOTAL_FIELDS = ("raised_minor", "donors", "gross_minor", "refunded_minor", "lost_disputes_minor")
TOTALS_TABLE = cast(Table, DriveTotals.__table__)
_TOTALS = TOTALS_TABLE.c
# The drive's totals move by a difference, in one Core statement built once (no DriveTotals
# object is loaded): concurrent gifts to a drive never lose each other's updates.
MOVE_TOTALS = (
    update(TOTALS_TABLE)
    .where(_TOTALS.drive_id == bindparam("drive"))
    .values(
        {field: _TOTALS[field] + bindparam(field + "_delta") for field in TOTAL_FIELDS}
        | {"version": _TOTALS.version + 1}
    )
    .returning(_TOTALS.raised_minor)
)


def _apply(donation: Gift, change: Callable[[Any], None]) -> None:
    """Apply a change to a donation and move the drive's totals by the difference, atomically.

    The donation is a `LockedDonation` (a row locked and re-read by `record_payment` or a
    webhook handler, which saves it), or a mapped `Donation` created in this same transaction
    (seeding and tests: no other writer can see it yet). The rules are the same for both; the
    donation row is always locked before the drive's totals row (one lock order)."""
    before = _contribution(donation)
    change(donation)
    donation.updated_at = now()
    delta = [after - prior for after, prior in zip(_contribution(donation), before, strict=True)]
    if not any(delta):
        return
    moves = {field + "_delta": by for field, by in zip(TOTAL_FIELDS, delta, strict=True)}
    parameters = {"drive": donation.drive_id, **moves}
    if isinstance(donation, LockedDonation):  # written now, with the totals (one round trip)
        raised = donation.save_with(MOVE_TOTALS, parameters).scalar_one()
    else:  # flushed by the session
        raised = db.session.connection().execute(MOVE_TOTALS, parameters).scalar_one()
    loaded = db.session.identity_map.get(db.session.identity_key(DriveTotals, donation.drive_id))
    if loaded is not None:
        db.session.expire(loaded)  # a copy read earlier in this session is out of date now
    drive = donation.drive
    if drive.status is DriveStatus.LIVE and drive.closes_at_goal and raised >= drive.goal_minor:
        _close_at_goal(drive.id)
        drive.status = DriveStatus.CLOSED


def _close_at_goal(drive_id: int) -> None:
    drive = db.session.get(Drive, drive_id)
    if drive is None or drive.status is not DriveStatus.LIVE:
        return
    drive.status = DriveStatus.CLOSED
    drive.closed_at = now()
    audit.record(None, "drive.goal_reached", "drive", drive.id, to_status="closed")


def set_payment_status(donation: Gift, status: DonationStatus, message: str | None = None) -> bool:
    """Move the payment state if the transition table allows it; return whether it moved."""
    if status is donation.status or status not in ALLOWED_TRANSITIONS[donation.status]:
        return False

    def change(target: Gift) -> None:
        target.status = status
        if status is DonationStatus.SUCCEEDED:
            target.succeeded_at = target.succeeded_at or now()
            target.failure_message = None
        elif message:
            target.failure_message = message[:300]

    _apply(donation, change)
    return True


def reverse_gift(donation: Gift) -> None:
    """Take a gift out of its drive's totals for good (`canceled`): finance's reversal of a
    gift recorded outside Stripe. The caller has locked the donation's row and re-read it."""

    def change(target: Gift) -> None:
        target.status = DonationStatus.CANCELED

    _apply(donation, change)


def apply_payment_result(donation: Gift, result: PaymentResult) -> None:
    """Record what Stripe says about the donation's PaymentIntent (idempotent)."""
    if donation.payment_intent_id is None:
        donation.payment_intent_id = result.payment_intent_id
    if result.charge_id and donation.charge_id is None:
        donation.charge_id = result.charge_id
    status = STRIPE_STATUS.get(result.status)
    if status is not None:
        set_payment_status(donation, status, result.error_message)


def record_refund(donation: Gift, amount_refunded_minor: int) -> None:
    """A (partial or full) refund: Stripe sends the cumulative amount, so keep the largest."""

    def change(target: Gift) -> None:
        target.amount_refunded_minor = min(
            max(target.amount_refunded_minor, amount_refunded_minor), target.amount_minor
        )
        # A refunded charge was paid, whatever order the events came in.
        if target.status is not DonationStatus.SUCCEEDED:
            target.status = DonationStatus.SUCCEEDED
            target.succeeded_at = target.succeeded_at or now()

    _apply(donation, change)


def record_dispute(donation: Gift, status: DisputeStatus, amount_minor: int) -> None:
    """A dispute opened or closed; a closed outcome is never reopened by a late `created`."""

    def change(target: Gift) -> None:
        if target.dispute_status in (DisputeStatus.WON, DisputeStatus.LOST) and (
            status is DisputeStatus.OPEN
        ):
            return
        target.dispute_status = status
        target.disputed_minor = min(amount_minor, target.amount_minor)
        if target.status is not DonationStatus.SUCCEEDED:
            target.status = DonationStatus.SUCCEEDED
            target.succeeded_at = target.succeeded_at or now()

    _apply(donation, change)


def record_payment(
    result: PaymentResult, donation_id: str | None = None, *, with_receipt: bool = True
) -> DonationStatus | None:
    """The one way Stripe's word on a PaymentIntent reaches a donation: lock the donation's row,
    re-read its state under the lock, apply the transition, write it with the drive's totals.

    Used by the donate answer, the thank-you page, the webhook and `reconcile-pending`, so two
    of them racing on one payment count it once, and the gift's receipt (fundraising/
    receipts.py) is issued once, by whichever moved it to `succeeded` (not `with_receipt`: a
    gift written back after a restore, whose receipt was most likely sent before). Returns
    the state after, or None when no donation matches. The caller commits
    (`security.transactions.committed`)."""
    donation = lock_for_intent(
        result.payment_intent_id, donation_id or result.metadata.get("donation_id")
    )
    if donation is None:
        return None
    before = donation.status
    apply_payment_result(donation, result)
    donation.save()
    is_new_success = (
        before is not DonationStatus.SUCCEEDED and donation.status is DonationStatus.SUCCEEDED
    )
    if with_receipt and is_new_success:
        receipts.issue_receipt(donation.id)
    return donation.status


def record_payment_failure(
    donation_id: str,
    status: DonationStatus,
    message: str | None = None,
    payment_intent_id: str | None = None,
) -> DonationStatus | None:
    """A decline, a refusal or an unreachable Stripe, through the same lock as a success."""
    donation = lock_for_intent(None, donation_id)
    if donation is None:
        return None
    if payment_intent_id and donation.payment_intent_id is None:
        donation.payment_intent_id = payment_intent_id
    set_payment_status(donation, status, message)
    donation.save()
    return donation.status


def find_donation_for_intent(payment_intent_id: str) -> Donation | None:
    """The donation behind a PaymentIntent id, for reading (writers use `record_payment`)."""
    return db.session.scalar(
        select(Donation).where(Donation.payment_intent_id == payment_intent_id)
    )


# --- Reading totals -------------------------------------------------------------------------


def recount(drive_id: int) -> tuple[int, int]:
    """Raised and donors from every donation (slow; for checks and repair, not page views)."""
    donations = db.session.scalars(select(Donation).where(Donation.drive_id == drive_id))
    raised = donors = 0
    for donation in donations:
        raised += donation.counted_minor
        donors += donation.counts_as_donor
    return raised, donors


def recent_gifts(drive: Drive, limit: int = 8) -> list[Donation]:
    """The latest succeeded gifts for the public list (first name or anonymous only)."""
    return list(
        db.session.scalars(
            select(Donation)
            .where(Donation.drive_id == drive.id, Donation.status == DonationStatus.SUCCEEDED)
            .order_by(Donation.succeeded_at.desc())
            .limit(limit)
        )
    )
