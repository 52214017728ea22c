"""Stripe payouts and their balance transactions, per-drive ledger aggregates, disbursements."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from fundraising.models import Donation
from security.clock import UTCDateTime, now
from security.columns import value_enum


class Payout(Model):
    """A Stripe payout to the bank, and its reconciliation."""

    __tablename__ = "payouts"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    arrival_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    failure_message: Mapped[str | None] = mapped_column(String(300))
    lines_net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sealed (finance.free_text): a bank statement reference may name someone.
    bank_reference_sealed: Mapped[str | None] = mapped_column(Text)
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconciled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def is_balanced(self) -> bool:
        """The lines add up to exactly the payout amount."""
        return self.synced_at is not None and self.lines_net_minor == self.amount_minor


class BalanceTransaction(Model):
    """One line of Stripe's balance: a charge, refund, dispute adjustment, fee or the payout."""

    __tablename__ = "balance_transactions"
    __table_args__ = (Index("ix_balance_transactions_unmatched", "match_status", "type"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    payout_id: Mapped[str | None] = mapped_column(ForeignKey("payouts.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    reporting_category: Mapped[str | None] = mapped_column(String(60))
    amount_minor: Mapped[int] = mapped_column(Integer)
    fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    net_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # Cross-currency: what the donor was charged, and Stripe's rate to the settlement currency.
    source_amount_minor: Mapped[int | None] = mapped_column(Integer)
    source_currency: Mapped[str | None] = mapped_column(String(3))
    exchange_rate: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    donation_id: Mapped[str | None] = mapped_column(ForeignKey("donations.id"), index=True)
    drive_id: Mapped[int | None] = mapped_column(ForeignKey("drives.id"), index=True)
    # Fee moved to the drive's currency, for its ledger.
    drive_fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    match_status: Mapped[str] = mapped_column(String(20), default="matched")


class DriveLedger(Model):
    """Per-drive money that is not in DriveTotals: fees, disbursed and committed spending.

    Changed in the same transaction as the balance lines and disbursements behind it; the
    approval of a disbursement locks this row, so concurrent approvals cannot overdraw.
    """

    __tablename__ = "drive_ledgers"

    drive_id: Mapped[int] = mapped_column(
        ForeignKey("drives.id", ondelete="CASCADE"), primary_key=True
    )
    fees_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    disbursed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    committed_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class Category(enum.StrEnum):
    FLIGHT = "flight"
    VISA = "visa_documents"
    HOUSING = "housing"
    SUBSISTENCE = "subsistence"
    MEDICAL = "medical"
    OTHER = "other"

    @property
    def label(self) -> LazyString:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.FLIGHT: _l("Flight"),
    Category.VISA: _l("Visa and documents"),
    Category.HOUSING: _l("Housing"),
    Category.SUBSISTENCE: _l("Subsistence"),
    Category.MEDICAL: _l("Medical"),
    Category.OTHER: _l("Other"),
}


class DisbursementStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    VOIDED = "voided"

    @property
    def label(self) -> LazyString:
        return DISBURSEMENT_STATUS_LABELS[self]


DISBURSEMENT_STATUS_LABELS = {
    DisbursementStatus.REQUESTED: _l("Requested"),
    DisbursementStatus.APPROVED: _l("Approved"),
    DisbursementStatus.REJECTED: _l("Rejected"),
    DisbursementStatus.PAID: _l("Paid"),
    DisbursementStatus.VOIDED: _l("Voided"),
}


def _new_id() -> str:
    return str(uuid.uuid4())


class Disbursement(Model):
    """Money for one case, charged to one drive: requested, approved by another, then paid.

    Finance sees the case code only; the payee and the note are ciphertext under the case's key,
    handed over by cases/, and so are the decision reason and the payment reference.
    """

    __tablename__ = "disbursements"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_id)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    case_code: Mapped[str] = mapped_column(String(12))
    drive_id: Mapped[int] = mapped_column(ForeignKey("drives.id"), index=True)
    category: Mapped[Category] = mapped_column(value_enum(Category, "disbursement_category"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    payee_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[DisbursementStatus] = mapped_column(
        value_enum(DisbursementStatus, "disbursement_status"), index=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Free text under the case's key too (finance.free_text): a reason or a bank reference
    # may name the person, and must go when the case is purged.
    decision_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_reference_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class OfflineGift(Model):
    """What finance keeps about a gift it recorded outside Stripe (bank transfer, cheque, cash,
    a card payment arranged by hand) beside the gift's donation, which holds the amount and the
    state the totals count (fundraising/offline_gifts.py).

    The reference and a reversal's reason are sealed (finance.free_text): a bank line or a
    cheque names the donor. Reversed only by a finance user other than the one who recorded it.
    """

    __tablename__ = "offline_gifts"

    donation_id: Mapped[str] = mapped_column(ForeignKey("donations.id"), primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drives.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    reference_sealed: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversal_reason_sealed: Mapped[str | None] = mapped_column(Text)

    donation: Mapped[Donation] = relationship()
