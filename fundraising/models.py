"""Drives, their maintained totals, donations and received Stripe events."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from security.clock import UTCDateTime, now
from security.columns import value_enum


class DriveStatus(enum.StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    CLOSED = "closed"

    @property
    def label(self) -> LazyString:
        return DRIVE_STATUS_LABELS[self]


DRIVE_STATUS_LABELS = {
    DriveStatus.DRAFT: _l("Draft"),
    DriveStatus.LIVE: _l("Live"),
    DriveStatus.CLOSED: _l("Closed"),
}


class DonationStatus(enum.StrEnum):
    """Where a gift stands. `unreachable`: Stripe did not answer; the webhook may still tell."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNREACHABLE = "unreachable"


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class GiftMethod(enum.StrEnum):
    """How a gift came in: online through Stripe, or outside it, recorded by finance (a bank
    transfer, a cheque, cash, or a card payment above the online limit arranged by hand)."""

    STRIPE = "stripe"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"
    CASH = "cash"
    CARD_BY_HAND = "card_by_hand"

    @property
    def label(self) -> LazyString:
        return GIFT_METHOD_LABELS[self]

    @property
    def is_offline(self) -> bool:
        return self is not GiftMethod.STRIPE


GIFT_METHOD_LABELS = {
    GiftMethod.STRIPE: _l("Online (Stripe)"),
    GiftMethod.BANK_TRANSFER: _l("Bank transfer"),
    GiftMethod.CHEQUE: _l("Cheque"),
    GiftMethod.CASH: _l("Cash"),
    GiftMethod.CARD_BY_HAND: _l("Card arranged by hand"),
}


OFFLINE_METHODS = tuple(method for method in GiftMethod if method.is_offline)


class Drive(Model):
    """A time-limited fundraising drive with one currency."""

    __tablename__ = "drives"
    __table_args__ = (
        CheckConstraint("goal_minor > 0", name="goal_positive"),
        CheckConstraint("minimum_minor > 0", name="minimum_positive"),
        CheckConstraint("ends_at > starts_at", name="window_order"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    story: Mapped[str] = mapped_column(Text, default="")
    goal_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[DriveStatus] = mapped_column(value_enum(DriveStatus, "drive_status"))
    suggested_amounts: Mapped[str] = mapped_column(String(200), default="")
    minimum_minor: Mapped[int] = mapped_column(Integer)
    closes_at_goal: Mapped[bool] = mapped_column(Boolean, default=False)
    # "Where the money went" on the public page: aggregated, published by an admin.
    is_spending_published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    statement_descriptor_suffix: Mapped[str | None] = mapped_column(String(22))
    receipt_description: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    totals: Mapped[DriveTotals] = relationship(back_populates="drive", uselist=False)
    cover: Mapped[DriveCover | None] = relationship(uselist=False, cascade="all, delete-orphan")

    @property
    def suggested_minor(self) -> list[int]:
        return [int(part) for part in self.suggested_amounts.split(",") if part.strip()]


class DriveCover(Model):
    """A drive's cover image, re-encoded as JPEG without metadata; kept in the database so
    the app holds no state on its own disk."""

    __tablename__ = "drive_covers"

    drive_id: Mapped[int] = mapped_column(
        ForeignKey("drives.id", ondelete="CASCADE"), primary_key=True
    )
    image: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt_text: Mapped[str] = mapped_column(String(300), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


class DriveTotals(Model):
    """The maintained aggregate for a drive, changed in the same transaction as each donation."""

    __tablename__ = "drive_totals"

    drive_id: Mapped[int] = mapped_column(
        ForeignKey("drives.id", ondelete="CASCADE"), primary_key=True
    )
    raised_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    donors: Mapped[int] = mapped_column(Integer, default=0)
    # raised = gross - refunded - lost disputes; kept apart for the finance ledger.
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    lost_disputes_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=0)

    drive: Mapped[Drive] = relationship(back_populates="totals")


def new_donation_id() -> str:
    return str(uuid.uuid4())


class CountedGift:
    """What a gift adds to its drive's totals, by its state: one definition for the mapped
    `Donation` and for a donation row a webhook reads and writes with plain SQL."""

    if TYPE_CHECKING:
        amount_minor: int
        status: DonationStatus
        amount_refunded_minor: int
        dispute_status: DisputeStatus | None
        disputed_minor: int

    @property
    def gross_counted_minor(self) -> int:
        """What the gift adds to the drive's gross: all of it once it succeeded."""
        return self.amount_minor if self.status is DonationStatus.SUCCEEDED else 0

    @property
    def refunded_counted_minor(self) -> int:
        return min(self.amount_refunded_minor, self.gross_counted_minor)

    @property
    def lost_dispute_counted_minor(self) -> int:
        if self.dispute_status is not DisputeStatus.LOST:
            return 0
        return min(self.disputed_minor, self.gross_counted_minor - self.refunded_counted_minor)

    @property
    def counted_minor(self) -> int:
        """What this gift adds to the drive's raised total, by its current state."""
        return (
            self.gross_counted_minor - self.refunded_counted_minor - self.lost_dispute_counted_minor
        )

    @property
    def counts_as_donor(self) -> int:
        return 1 if self.counted_minor > 0 else 0


class Donation(CountedGift, Model):
    """One gift. Name and email are sealed; only the donor's chosen public name is clear."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("amount_refunded_minor >= 0", name="refund_not_negative"),
        # The drive page's "recent gifts" reads this index alone, however many gifts there are.
        Index("ix_donations_recent", "drive_id", "status", "succeeded_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_donation_id)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drives.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    fee_cover_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[DonationStatus] = mapped_column(value_enum(DonationStatus, "donation_status"))
    # A gift outside Stripe is a donation like any other, so every total counts it one way;
    # finance.models.OfflineGift keeps its reference and who recorded it.
    method: Mapped[GiftMethod] = mapped_column(
        value_enum(GiftMethod, "gift_method"), default=GiftMethod.STRIPE, server_default="stripe"
    )
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    name_sealed: Mapped[str | None] = mapped_column(Text)
    email_sealed: Mapped[str | None] = mapped_column(Text)
    public_name: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(String(280))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # "Email me updates about this drive": when the donor asked (to the sealed email above),
    # and when they unsubscribed. Unticked by default; no address, no updates.
    updates_consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updates_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount_refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    dispute_status: Mapped[DisputeStatus | None] = mapped_column(
        value_enum(DisputeStatus, "dispute_status")
    )
    disputed_minor: Mapped[int] = mapped_column(Integer, default=0)
    failure_message: Mapped[str | None] = mapped_column(String(300))
    # The channel the drive link came through (?via=whatsapp): names a channel, never a person.
    via_code: Mapped[str | None] = mapped_column(String(32))
    # The language the donor gave in ("es"), so their receipt is written in it.
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    drive: Mapped[Drive] = relationship()


class StripeEvent(Model):
    """Each Stripe event id stored once: a repeated delivery is recognised and ignored."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    object_id: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(40), default="applied")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def new_update_public_id() -> str:
    return str(uuid.uuid4())


class DriveUpdate(Model):
    """News an admin posts on a drive ("three people are safe now"): Markdown, shown on the
    drive's page newest first and in its Atom feed, and emailed once to donors who asked."""

    __tablename__ = "drive_updates"
    __table_args__ = (Index("ix_drive_updates_drive_posted", "drive_id", "posted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The Atom entry's permanent id (urn:uuid:...), whatever the drive's address becomes.
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_update_public_id)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drives.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(160), default="")
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether it was sent to the donors who asked for updates when it was posted.
    is_emailed: Mapped[bool] = mapped_column(Boolean, default=False)

    drive: Mapped[Drive] = relationship()

    @property
    def updated_at(self) -> datetime:
        """When it last changed: its edit, or its posting."""
        return self.edited_at or self.posted_at


class DriveTranslation(Model):
    """A drive's title and story in another language than its own (English), written by an
    admin (fundraising/drive_translations.py): readers of that language see it instead."""

    __tablename__ = "drive_translations"

    drive_id: Mapped[int] = mapped_column(
        ForeignKey("drives.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(160))
    # Empty: readers of the language get the original story under the translated title.
    story: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class UpdateTranslation(Model):
    """A drive update's title and text in another language, as for the drive itself."""

    __tablename__ = "update_translations"

    update_id: Mapped[int] = mapped_column(
        ForeignKey("drive_updates.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(160), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


RECEIPT_SEQUENCE = "receipts"  # the organisation's one sequence of receipt numbers


class ReceiptCounter(Model):
    """The next number of a receipt sequence. Taking a number updates this row, which locks
    it until the gift's transaction ends: numbers are unique, and a rolled-back gift gives
    its number back, so the sequence has no gaps."""

    __tablename__ = "receipt_counters"
    __table_args__ = (CheckConstraint("next_value > 0", name="next_value_positive"),)

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger)


class Receipt(Model):
    """The receipt the app emailed for a gift through Stripe: one per donation, numbered
    from the organisation's sequence when the gift succeeded (fundraising/receipts.py)."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    donation_id: Mapped[str] = mapped_column(ForeignKey("donations.id"), unique=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the mail server last took it (the first send or a copy); None: not yet, or every
    # try failed, and finance can send it again.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    donation: Mapped[Donation] = relationship()
