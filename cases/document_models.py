"""A case's documents (passport scans, visas, tickets...): ciphertext in the database, chunked.

Each document has its own data key, stored encrypted under the case's data key: deleting the
document's row shreds it (its chunks no longer open with any key), and purging the case shreds
every document with the case key."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cases.models import new_id
from extensions import Model
from security.clock import UTCDateTime, now
from security.columns import value_enum

CHUNK_BYTES = 512 * 1024


class DocumentKind(enum.StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    VISA = "visa"
    TICKET = "ticket"
    REFERRAL_LETTER = "referral_letter"
    MEDICAL = "medical"
    OTHER = "other"

    @property
    def label(self) -> LazyString:
        """The type's name, in the reader's language."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    DocumentKind.PASSPORT: _l("Passport"),
    DocumentKind.NATIONAL_ID: _l("National ID"),
    DocumentKind.VISA: _l("Visa"),
    DocumentKind.TICKET: _l("Ticket"),
    DocumentKind.REFERRAL_LETTER: _l("Referral letter"),
    DocumentKind.MEDICAL: _l("Medical"),
    DocumentKind.OTHER: _l("Other"),
}


class CaseDocument(Model):
    """One uploaded file: clear facts for the list, the name and the bytes encrypted."""

    __tablename__ = "case_documents"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(value_enum(DocumentKind, "document_kind"))
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    size: Mapped[int] = mapped_column(Integer)  # bytes as stored (after re-encoding)
    content_type: Mapped[str] = mapped_column(String(32))  # decided by content, not the upload
    # The document's own data key, encrypted under the case's data key.
    key_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # The original file name (it can name the person), under the document's key; NULL if none.
    filename_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def size_label(self) -> str:
        """The size for people: 340 KB, 2.4 MB."""
        if self.size < 1024 * 1024:
            return str(_("%(size)s KB", size=format_decimal(max(1, round(self.size / 1024)))))
        return str(_("%(size)s MB", size=format_decimal(self.size / (1024 * 1024), format="0.0")))


class CaseDocumentChunk(Model):
    """Up to CHUNK_BYTES of a document, encrypted under its key and bound to its place."""

    __tablename__ = "case_document_chunks"

    document_id: Mapped[str] = mapped_column(
        ForeignKey("case_documents.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
