"""The restricted-fund ledger and disbursements with two-person approval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

import audit
from accounts.models import Role, User
from extensions import db
from finance import free_text
from finance.models import Category, Disbursement, DisbursementStatus, DriveLedger, OfflineGift
from fundraising.models import Donation, DonationStatus, Drive
from security.clock import now


class FinanceError(ValueError):
    """A finance rule was broken; the message is safe to show."""


class InsufficientFunds(FinanceError):
    """Approving would take the drive's available balance below zero."""


class NotAllowed(FinanceError):
    """This person may not take this decision (maker-checker, role)."""


@dataclass(frozen=True)
class LedgerRow:
    """One drive's restricted fund, in the drive's currency (minor units)."""

    drive: Drive
    gross: int
    fees: int
    refunds: int
    disputes: int
    disbursed: int
    committed: int
    # Of the gross, what came outside Stripe (finance/offline_gifts.py): in no payout.
    outside_stripe: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds - self.disputes

    @property
    def available(self) -> int:
        return self.net - self.disbursed - self.committed


def _row(drive: Drive, ledger: DriveLedger | None, outside_stripe: int = 0) -> LedgerRow:
    totals = drive.totals
    return LedgerRow(
        drive=drive,
        gross=totals.gross_minor,
        fees=ledger.fees_minor if ledger else 0,
        refunds=totals.refunded_minor,
        disputes=totals.lost_disputes_minor,
        disbursed=ledger.disbursed_minor if ledger else 0,
        committed=ledger.committed_minor if ledger else 0,
        outside_stripe=outside_stripe,
    )


def outside_stripe(drive_id: int | None = None) -> dict[int, int]:
    """Gifts outside Stripe still counted, summed by drive: from their own small table (the
    donations they join are found by primary key), so no scan of every donation."""
    query = (
        select(OfflineGift.drive_id, func.sum(Donation.amount_minor))
        .join(Donation, Donation.id == OfflineGift.donation_id)
        .where(Donation.status == DonationStatus.SUCCEEDED)
        .group_by(OfflineGift.drive_id)
    )
    if drive_id is not None:
        query = query.where(OfflineGift.drive_id == drive_id)
    return {row_drive: int(amount or 0) for row_drive, amount in db.session.execute(query)}


def ledger_rows() -> list[LedgerRow]:
    """Every drive's ledger from the maintained aggregates (no scan of donations)."""
    rows = db.session.execute(
        select(Drive, DriveLedger)
        .options(joinedload(Drive.totals))
        .outerjoin(DriveLedger, DriveLedger.drive_id == Drive.id)
        .order_by(Drive.created_at.desc())
    ).all()
    offline = outside_stripe()
    return [_row(drive, ledger, offline.get(drive.id, 0)) for drive, ledger in rows]


def ledger_for(drive_id: int) -> LedgerRow:
    """One drive's ledger."""
    drive = db.session.get(Drive, drive_id)
    if drive is None:
        raise FinanceError(_("There is no such drive."))
    offline = outside_stripe(drive_id).get(drive_id, 0)
    return _row(drive, db.session.get(DriveLedger, drive_id), offline)


def drive_ledger(drive_id: int, *, lock: bool = False) -> DriveLedger:
    """The ledger row of a drive, created on first use; locked FOR UPDATE when asked."""
    query = select(DriveLedger).where(DriveLedger.drive_id == drive_id)
    if lock:
        query = query.with_for_update()
    ledger = db.session.scalar(query)
    if ledger is not None:
        return ledger
    savepoint = db.session.begin_nested()
    try:
        db.session.add(
            DriveLedger(drive_id=drive_id, fees_minor=0, disbursed_minor=0, committed_minor=0)
        )
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()  # created by a concurrent transaction: use theirs
    ledger = db.session.scalar(query)
    assert ledger is not None  # noqa: S101
    return ledger


# --- Disbursements ------------------------------------------------------------------------------


def request_disbursement(
    *,
    case_id: str,
    case_code: str,
    drive_id: int,
    category: Category,
    amount_minor: int,
    payee_enc: bytes | None,
    note_enc: bytes | None,
    requester: User,
) -> Disbursement:
    """A caseworker asks for money for a case, charged to a drive (in its currency)."""
    drive = db.session.get(Drive, drive_id)
    if drive is None:
        raise FinanceError(_("Choose the drive to charge."))
    if amount_minor <= 0:
        raise FinanceError(_("The amount must be more than zero."))
    disbursement = Disbursement(
        case_id=case_id,
        case_code=case_code,
        drive_id=drive.id,
        category=category,
        amount_minor=amount_minor,
        currency=drive.currency,
        payee_enc=payee_enc,
        note_enc=note_enc,
        status=DisbursementStatus.REQUESTED,
        requested_by_id=requester.id,
        requested_at=now(),
    )
    db.session.add(disbursement)
    db.session.flush()
    audit.record(
        requester,
        "disbursement.requested",
        "disbursement",
        disbursement.id,
        amount_minor=amount_minor,
        currency=drive.currency,
        category=category.value,
    )
    return disbursement


def _check_decider(disbursement: Disbursement, actor: User) -> None:
    if actor.role is not Role.FINANCE:
        raise NotAllowed(_("Only finance staff decide on disbursements."))
    if actor.id == disbursement.requested_by_id:
        raise NotAllowed(_("The person who requested a disbursement cannot decide on it."))


def _lock(disbursement_id: str) -> Disbursement:
    found = db.session.scalar(
        select(Disbursement).where(Disbursement.id == disbursement_id).with_for_update()
    )
    if found is None:
        raise FinanceError(_("There is no such disbursement."))
    return found


def _already(disbursement: Disbursement) -> str:
    status = str(disbursement.status.label).lower()
    return str(_("This disbursement is already %(status)s.", status=status))


def approve_disbursement(disbursement_id: str, approver: User) -> Disbursement:
    """Approve, if the drive can afford it: checked under a lock on the drive's ledger row."""
    disbursement = _lock(disbursement_id)
    _check_decider(disbursement, approver)
    if disbursement.status is not DisbursementStatus.REQUESTED:
        raise FinanceError(_already(disbursement))
    ledger = drive_ledger(disbursement.drive_id, lock=True)
    available = ledger_for(disbursement.drive_id).available
    if disbursement.amount_minor > available:
        raise InsufficientFunds(
            _("Approving this would take the drive's available balance below zero.")
        )
    ledger.committed_minor += disbursement.amount_minor
    disbursement.status = DisbursementStatus.APPROVED
    disbursement.decided_by_id = approver.id
    disbursement.decided_at = now()
    audit.record(
        approver,
        "disbursement.approved",
        "disbursement",
        disbursement.id,
        amount_minor=disbursement.amount_minor,
        currency=disbursement.currency,
    )
    return disbursement


def reject_disbursement(disbursement_id: str, approver: User, reason: str) -> Disbursement:
    """Refuse a request, with a reason."""
    disbursement = _lock(disbursement_id)
    _check_decider(disbursement, approver)
    if disbursement.status is not DisbursementStatus.REQUESTED:
        raise FinanceError(_already(disbursement))
    if not reason.strip():
        raise FinanceError(_("Give a reason for the rejection."))
    disbursement.status = DisbursementStatus.REJECTED
    disbursement.decided_by_id = approver.id
    disbursement.decided_at = now()
    disbursement.decision_reason_enc = free_text.seal_text(
        disbursement, "decision-reason", reason.strip()[:500]
    )
    audit.record(approver, "disbursement.rejected", "disbursement", disbursement.id)
    return disbursement


def mark_paid(
    disbursement_id: str, actor: User, reference: str, paid_at: datetime | None = None
) -> Disbursement:
    """Record the payment of an approved disbursement."""
    disbursement = _lock(disbursement_id)
    if actor.role is not Role.FINANCE:
        raise NotAllowed(_("Only finance staff record payments."))
    if disbursement.status is not DisbursementStatus.APPROVED:
        raise FinanceError(_("Only an approved disbursement can be marked paid."))
    if not reference.strip():
        raise FinanceError(_("Give the payment reference."))
    ledger = drive_ledger(disbursement.drive_id, lock=True)
    ledger.committed_minor -= disbursement.amount_minor
    ledger.disbursed_minor += disbursement.amount_minor
    disbursement.status = DisbursementStatus.PAID
    disbursement.paid_at = paid_at or now()
    disbursement.payment_reference_enc = free_text.seal_text(
        disbursement, "payment-reference", reference.strip()[:120]
    )
    # Not the reference itself: bank references often name the payee, and the audit log
    # outlives a purged case.
    audit.record(actor, "disbursement.paid", "disbursement", disbursement.id)
    return disbursement


def void_disbursement(disbursement_id: str, actor: User, reason: str) -> Disbursement:
    """Cancel a request or an approved, unpaid disbursement (its commitment is released)."""
    disbursement = _lock(disbursement_id)
    if actor.role is not Role.FINANCE:
        raise NotAllowed(_("Only finance staff void disbursements."))
    if disbursement.status not in (DisbursementStatus.REQUESTED, DisbursementStatus.APPROVED):
        raise FinanceError(
            _(
                "A %(status)s disbursement cannot be voided.",
                status=str(disbursement.status.label).lower(),
            )
        )
    if disbursement.status is DisbursementStatus.APPROVED:
        drive_ledger(disbursement.drive_id, lock=True).committed_minor -= disbursement.amount_minor
    disbursement.status = DisbursementStatus.VOIDED
    disbursement.decision_reason_enc = free_text.seal_text(
        disbursement, "decision-reason", reason.strip()[:500]
    )
    audit.record(actor, "disbursement.voided", "disbursement", disbursement.id)
    return disbursement


def disbursements(
    *, status: DisbursementStatus | None = None, case_id: str | None = None
) -> list[Disbursement]:
    """Disbursements, newest first, optionally filtered."""
    query = select(Disbursement).order_by(Disbursement.requested_at.desc())
    if status is not None:
        query = query.where(Disbursement.status == status)
    if case_id is not None:
        query = query.where(Disbursement.case_id == case_id)
    return list(db.session.scalars(query))


def spending_by_category(drive_id: int | None = None) -> dict[Category, int]:
    """Paid disbursements summed by category (for charts and the public summary)."""
    query = select(Disbursement).where(Disbursement.status == DisbursementStatus.PAID)
    if drive_id is not None:
        query = query.where(Disbursement.drive_id == drive_id)
    sums: dict[Category, int] = {}
    for disbursement in db.session.scalars(query):
        sums[disbursement.category] = sums.get(disbursement.category, 0) + (
            disbursement.amount_minor
        )
    return sums
