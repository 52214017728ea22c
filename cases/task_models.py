"""A case's tasks: the next things to do, each with a due date and (optionally) a caseworker.

Automatic tasks (verify the referral, renew an expiring document) are stored by their kind, and
their titles are translated when shown; only a title a caseworker wrote is stored, encrypted
under the case's data key like a note."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cases.document_models import CaseDocument
from cases.models import new_id
from extensions import Model
from security.clock import UTCDateTime, now
from security.columns import value_enum


class TaskKind(enum.StrEnum):
    WRITTEN = "written"  # by hand: the title is encrypted
    VERIFY_REFERRAL = "verify_referral"
    DOCUMENT_EXPIRY = "document_expiry"


VERIFY_TITLE = _l("Verify the referral")


class CaseTask(Model):
    """One thing to do on a case, by a date."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        CheckConstraint("kind != 'written' OR title_enc IS NOT NULL", name="written_has_title"),
        CheckConstraint(
            "kind != 'document_expiry' OR document_id IS NOT NULL", name="expiry_has_document"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TaskKind] = mapped_column(value_enum(TaskKind, "case_task_kind"))
    title_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("case_documents.id", ondelete="CASCADE"), index=True
    )
    due_on: Mapped[date] = mapped_column(Date, index=True)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    document: Mapped[CaseDocument | None] = relationship()

    @property
    def is_done(self) -> bool:
        return self.done_at is not None
