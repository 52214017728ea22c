"""A case's documents: taken in (type checked by content, images stripped of metadata),
encrypted in chunks under a key of their own sealed by the case's key, listed, read (each
read audited), and shredded on deletion or with the case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

import audit
from accounts.models import User
from cases import encryption, tasks
from cases.document_models import CHUNK_BYTES, CaseDocument, CaseDocumentChunk, DocumentKind
from cases.models import Case, new_id
from config import MIB
from extensions import db
from security import fields as crypto
from security import uploads
from security.clock import now

# Tables a case's purge empties: scrubbed of old copies after it (cases.services).
SHREDDED_TABLES = (CaseDocument.__tablename__, CaseDocumentChunk.__tablename__)
# After one document's deletion, the table of document keys is enough to scrub: an old copy of
# its chunks left in the files opens with no key once its key's row is gone for good (and
# rewriting the whole chunks table on PostgreSQL for each deletion would lock it for long).
KEY_TABLES = (CaseDocument.__tablename__,)
FILENAME_LENGTH = 200


class DocumentNotFound(LookupError):
    """No such document on this case (never says whether it exists elsewhere)."""


@dataclass(frozen=True)
class DocumentEntry:
    """A document as its case page lists it: the clear facts and the decrypted name."""

    document: CaseDocument
    filename: str | None
    is_expired: bool


def max_bytes() -> int:
    """The largest document accepted (CASE_DOCUMENT_MAX_MB)."""
    return int(current_app.config["CASE_DOCUMENT_MAX_MB"]) * MIB


def _record_id(case: Case, document_id: str) -> str:
    """What each of the document's ciphertexts is bound to: its case and itself."""
    return f"{case.id}/{document_id}"


def _clean_filename(filename: str | None) -> str | None:
    """The name as the person's device had it, without a folder path or control characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    return name[:FILENAME_LENGTH] or None


def add_document(
    case: Case,
    actor: User,
    *,
    kind: DocumentKind,
    expires_on: date | None,
    filename: str | None,
    declared_type: str | None,
    data: bytes,
) -> CaseDocument:
    """Check, clean and encrypt an upload; UploadRefused (nothing stored) when it is not
    a PDF, JPEG, PNG or WebP by content, claims to be something else, or is too large."""
    limit = max_bytes()
    if len(data) > limit:
        raise uploads.UploadRefused(
            _(
                "The file is %(size)s MB: documents can be up to %(limit)s MB. Nothing was saved.",
                size=format_decimal(len(data) / MIB, format="0.0"),
                limit=limit // MIB,
            )
        )
    clean = uploads.clean_upload(data, filename, declared_type)
    case_key = encryption.data_key(case)
    document_key = crypto.new_data_key()
    document_id = new_id()
    record_id = _record_id(case, document_id)
    name = _clean_filename(filename)
    name_enc = None if name is None else crypto.encrypt(document_key, name, record_id, "name")
    document = CaseDocument(
        id=document_id,
        case_id=case.id,
        kind=kind,
        expires_on=expires_on,
        size=len(clean.data),
        content_type=clean.kind.content_type,
        key_enc=crypto.encrypt_bytes(case_key, document_key, case.id, f"document:{document_id}"),
        filename_enc=name_enc,
        created_at=now(),
        created_by_id=actor.id,
    )
    db.session.add(document)
    db.session.flush()
    pieces = [clean.data[at : at + CHUNK_BYTES] for at in range(0, len(clean.data), CHUNK_BYTES)]
    for index, piece in enumerate(pieces):
        # The count is bound too: a chunk cut from the end makes every chunk fail.
        field = f"chunk:{index}/{len(pieces)}"
        db.session.add(
            CaseDocumentChunk(
                document_id=document_id,
                chunk_index=index,
                data=crypto.encrypt_bytes(document_key, piece, record_id, field),
            )
        )
    tasks.add_renewal_task(case, document)
    case.updated_at = now()
    audit.record(actor, "case.document_added", "case", case.id, document=document_id)
    return document


def _document_key(case: Case, case_key: bytes, document: CaseDocument) -> bytes:
    return crypto.decrypt_bytes(case_key, document.key_enc, case.id, f"document:{document.id}")


def documents_for(case: Case) -> list[DocumentEntry]:
    """The case's documents, newest first, with their names (an audited opening of the case)."""
    documents = db.session.scalars(
        select(CaseDocument)
        .where(CaseDocument.case_id == case.id)
        .order_by(CaseDocument.created_at.desc(), CaseDocument.id)
    ).all()
    if not documents:
        return []
    case_key = encryption.reading_key(case)
    return [_entry(case, case_key, document) for document in documents]


def _entry(case: Case, case_key: bytes, document: CaseDocument) -> DocumentEntry:
    name = None
    if document.filename_enc is not None:
        key = _document_key(case, case_key, document)
        name = crypto.decrypt(key, document.filename_enc, _record_id(case, document.id), "name")
    expired = document.expires_on is not None and document.expires_on < now().date()
    return DocumentEntry(document, name, expired)


def get_document(case: Case, document_id: str) -> CaseDocument:
    """One of the case's documents, or DocumentNotFound."""
    document = db.session.scalar(
        select(CaseDocument).where(
            CaseDocument.case_id == case.id, CaseDocument.id == document_id[:36]
        )
    )
    if document is None:
        raise DocumentNotFound(document_id)
    return document


def entry_for(case: Case, document: CaseDocument) -> DocumentEntry:
    """One document as listed (for the page that confirms its deletion): an audited opening."""
    return _entry(case, encryption.reading_key(case), document)


def read_document(case: Case, document: CaseDocument, reader: User, method: str) -> bytes:
    """The document's bytes, decrypted: an audited read (`case.document_read`, ids only, and
    the case's opening). A chunk changed, moved, missing or added fails loudly."""
    case_key = encryption.reading_key(case)
    audit.record(reader, "case.document_read", "case", case.id, document=document.id, method=method)
    key = _document_key(case, case_key, document)
    record_id = _record_id(case, document.id)
    chunks = db.session.execute(
        select(CaseDocumentChunk.chunk_index, CaseDocumentChunk.data)
        .where(CaseDocumentChunk.document_id == document.id)
        .order_by(CaseDocumentChunk.chunk_index)
    ).all()
    count = len(chunks)
    data = b"".join(
        crypto.decrypt_bytes(key, blob, record_id, f"chunk:{index}/{count}")
        for index, blob in chunks
    )
    if len(data) != document.size:
        raise crypto.DecryptionError(f"document {document.id} is not the size it was stored at")
    return data


def delete_document(case: Case, document: CaseDocument, actor: User) -> None:
    """Shred one document: its key and chunks deleted (scrub the tables after the commit)."""
    document_id = document.id
    tasks.delete_for_document(document_id)
    db.session.execute(
        delete(CaseDocumentChunk).where(CaseDocumentChunk.document_id == document_id)
    )
    db.session.execute(delete(CaseDocument).where(CaseDocument.id == document_id))
    case.updated_at = now()
    audit.record(actor, "case.document_deleted", "case", case.id, document=document_id)


def delete_case_documents(case: Case) -> int:
    """Every document of a case gone (its purge); how many there were."""
    ids = select(CaseDocument.id).where(CaseDocument.case_id == case.id)
    count = db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    db.session.execute(delete(CaseDocumentChunk).where(CaseDocumentChunk.document_id.in_(ids)))
    db.session.execute(delete(CaseDocument).where(CaseDocument.case_id == case.id))
    return count
