"""Audit records: one row per security-relevant action, chained by SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from security.clock import UTCDateTime

GENESIS_HASH = "0" * 64


class AuditRecord(Model):
    """One audited action. Never updated or deleted by the application."""

    __tablename__ = "audit_records"
    __table_args__ = (CheckConstraint("length(record_hash) = 64", name="hash_length"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[str] = mapped_column(Text, default="{}")
    # Unique: two rows can never claim the same predecessor, so the chain cannot fork.
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Model):
    """The newest record's id and hash, so removing rows from the end is noticed too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_record_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditVerification(Model):
    """One run of `audit verify`: when, and whether the chain (and its anchors) held. The
    newest is what /metrics reports (audit_chain_ok), on every app host alike."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_intact: Mapped[bool] = mapped_column(Boolean)
    records_checked: Mapped[int] = mapped_column(Integer)
