"""Drives, their maintained totals, donations and received Stripe events."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

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
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    name_sealed: Mapped[str | None] = mapped_column(Text)
    email_sealed: Mapped[str | None] = mapped_column(Text)
    public_name: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(String(280))
    is_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    dispute_status: Mapped[DisputeStatus | None] = mapped_column(
        value_enum(DisputeStatus, "dispute_status")
    )
    disputed_minor: Mapped[int] = mapped_column(Integer, default=0)
    failure_message: Mapped[str | None] = mapped_column(String(300))
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
