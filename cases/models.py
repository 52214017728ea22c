"""Cases of people at risk. Identifying fields are ciphertext; only coarse facts are clear."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from finance.models import Category
from security.clock import UTCDateTime, now
from security.columns import value_enum

# The identifying fields, all encrypted under the case's data key.
IDENTITY_FIELDS = (
    "legal_name",
    "known_as",
    "date_of_birth",
    "contact",
    "current_location",
    "risk_narrative",
    "needs",
    "household_members",
)


def new_id() -> str:
    return str(uuid.uuid4())


class Stage(enum.StrEnum):
    REFERRED = "referred"
    SCREENING = "screening"
    VERIFIED = "verified"
    APPROVED = "approved"
    DOCUMENTS = "documents"  # travel documents and visas in progress
    FUNDED = "funded"
    TRAVEL_BOOKED = "travel_booked"
    IN_TRANSIT = "in_transit"  # may last months, in a transit country
    ARRIVED = "arrived"
    SETTLING = "settling"  # support after arrival
    CLOSED = "closed"  # with an Outcome
    # Before outcomes, cases closed early in these stages; only history still names them
    # (migration 0016 moved every such case to CLOSED with the matching outcome).
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> LazyString:
        """The stage's name, in the reader's language."""
        return _STAGE_LABELS[self]

    @property
    def is_closed(self) -> bool:
        return self in (Stage.CLOSED, Stage.DECLINED, Stage.WITHDRAWN)


class Outcome(enum.StrEnum):
    """How a case ended."""

    RELOCATED = "relocated"
    CASH_ASSISTANCE = "cash_assistance"
    REFERRED_OUT = "referred_out"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    LOST_CONTACT = "lost_contact"

    @property
    def label(self) -> LazyString:
        return _OUTCOME_LABELS[self]


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def label(self) -> LazyString:
        return _RISK_LABELS[self]


class ReferralSource(enum.StrEnum):
    PARTNER = "partner"
    SELF = "self"
    HOTLINE = "hotline"
    COMMUNITY = "community"
    OTHER = "other"

    @property
    def label(self) -> LazyString:
        return _SOURCE_LABELS[self]


# The labels people read, translated when shown (lazy_gettext: each reader's language).
_STAGE_LABELS = {
    Stage.REFERRED: _l("Referred"),
    Stage.SCREENING: _l("Screening"),
    Stage.VERIFIED: _l("Verified"),
    Stage.APPROVED: _l("Approved"),
    Stage.DOCUMENTS: _l("Travel documents"),
    Stage.FUNDED: _l("Funded"),
    Stage.TRAVEL_BOOKED: _l("Travel booked"),
    Stage.IN_TRANSIT: _l("In transit"),
    Stage.ARRIVED: _l("Arrived"),
    Stage.SETTLING: _l("Settling"),
    Stage.CLOSED: _l("Closed"),
    Stage.DECLINED: _l("Declined"),
    Stage.WITHDRAWN: _l("Withdrawn"),
}
_OUTCOME_LABELS = {
    Outcome.RELOCATED: _l("Relocated"),
    Outcome.CASH_ASSISTANCE: _l("Cash assistance only"),
    Outcome.REFERRED_OUT: _l("Referred out"),
    Outcome.DECLINED: _l("Declined"),
    Outcome.WITHDRAWN: _l("Withdrawn"),
    Outcome.LOST_CONTACT: _l("Lost contact"),
}
_RISK_LABELS = {
    RiskLevel.LOW: _l("Low"),
    RiskLevel.MEDIUM: _l("Medium"),
    RiskLevel.HIGH: _l("High"),
    RiskLevel.CRITICAL: _l("Critical"),
}
_SOURCE_LABELS = {
    ReferralSource.PARTNER: _l("Partner"),
    ReferralSource.SELF: _l("Self"),
    ReferralSource.HOTLINE: _l("Hotline"),
    ReferralSource.COMMUNITY: _l("Community"),
    ReferralSource.OTHER: _l("Other"),
}


class Case(Model):
    """A person (and household) being moved to safety."""

    __tablename__ = "cases"
    __table_args__ = (CheckConstraint("household_size >= 1", name="household_positive"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    stage: Mapped[Stage] = mapped_column(value_enum(Stage, "case_stage"), index=True)
    risk_level: Mapped[RiskLevel] = mapped_column(value_enum(RiskLevel, "risk_level"), index=True)
    region: Mapped[str] = mapped_column(String(80))
    destination_country: Mapped[str | None] = mapped_column(String(80))
    household_size: Mapped[int] = mapped_column(Integer, default=1)
    referral_source: Mapped[ReferralSource] = mapped_column(
        value_enum(ReferralSource, "referral_source"), default=ReferralSource.PARTNER
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[Outcome | None] = mapped_column(value_enum(Outcome, "case_outcome"))
    # Coarse, in clear like region: where a case in transit waits (a country, not a place).
    transit_country: Mapped[str | None] = mapped_column(String(80))
    purge_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ciphertexts (NULL when empty or after purge).
    legal_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    known_as_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    date_of_birth_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    current_location_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    risk_narrative_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    needs_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    household_members_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    key: Mapped[CaseKey | None] = relationship(cascade="all, delete-orphan", uselist=False)
    assignments: Mapped[list[CaseAssignment]] = relationship(
        cascade="all, delete-orphan", back_populates="case"
    )

    @property
    def is_purged(self) -> bool:
        return self.purged_at is not None

    @property
    def assignee_ids(self) -> set[int]:
        return {assignment.user_id for assignment in self.assignments}


class CaseKey(Model):
    """The case's data key, wrapped by the master key. Deleting it shreds the case."""

    __tablename__ = "case_keys"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    master_key_id: Mapped[str] = mapped_column(String(16), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)


class CaseAssignment(Model):
    """A caseworker who may read and change the case."""

    __tablename__ = "case_assignments"
    __table_args__ = (UniqueConstraint("case_id", "user_id", name="one_per_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    case: Mapped[Case] = relationship(back_populates="assignments")


class CaseNote(Model):
    """A caseworker's note; the body is encrypted under the case's key."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)


class StageChange(Model):
    """One move between stages: who, when, why (the reason encrypted)."""

    __tablename__ = "case_stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[Stage | None] = mapped_column(value_enum(Stage, "case_stage"))
    to_stage: Mapped[Stage] = mapped_column(value_enum(Stage, "case_stage"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)


class Verification(Model):
    """The checks before `verified`: recorded by one person, confirmed by another."""

    __tablename__ = "case_verifications"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    has_seen_documents: Mapped[bool] = mapped_column(Boolean, default=False)
    has_contacted_references: Mapped[bool] = mapped_column(Boolean, default=False)
    has_assessed_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BlindIndexEntry(Model):
    """A keyed hash of a case's normalised name or contact, for duplicate detection."""

    __tablename__ = "case_blind_index"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), index=True)


class BreakGlass(Model):
    """An admin's time-limited, audited access to one case's contents."""

    __tablename__ = "case_break_glass"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lockdown(Model):
    """Emergency lockdown: while a row is active, no case page opens for anyone."""

    __tablename__ = "case_lockdowns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SpendingSnapshot(Model):
    """A drive's public "where the money went" as frozen at one month's end (never rewritten).

    Holds only what the page shows: each figure is the one last moved by at least three cases
    (`*_through` says which month-end's data it is), and amounts are rounded.
    """

    __tablename__ = "spending_snapshots"
    __table_args__ = (UniqueConstraint("drive_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drives.id", ondelete="CASCADE"))
    # The first day of the month (UTC) whose end the snapshot shows.
    month: Mapped[date] = mapped_column(Date)
    people_relocated: Mapped[int | None] = mapped_column(Integer)
    people_cases: Mapped[int] = mapped_column(Integer, default=0)
    people_through: Mapped[date | None] = mapped_column(Date)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    lines: Mapped[list[SpendingSnapshotLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class SpendingSnapshotLine(Model):
    """One category's rounded total in a snapshot, and the cases and month-end behind it."""

    __tablename__ = "spending_snapshot_lines"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("spending_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[Category] = mapped_column(
        value_enum(Category, "disbursement_category"), primary_key=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    cases: Mapped[int] = mapped_column(Integer)
    through: Mapped[date] = mapped_column(Date)


class DuplicateReview(Model):
    """A referral whose name or contact matched another live case: for an admin to review.

    The caseworker is never told (that would make the check an oracle); the hit is audited,
    listed for admins with both case codes, and resolved by one of them."""

    __tablename__ = "case_duplicate_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    matched_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    kinds: Mapped[str] = mapped_column(String(32))  # "name", "contact" or "contact,name"
    found_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # "different" or "same"


class IntakePause(Model):
    """Intake closed for one caseworker after repeated duplicate hits, until an admin lifts it."""

    __tablename__ = "case_intake_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
