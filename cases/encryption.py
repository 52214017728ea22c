"""A case's encryption: its data key (wrapped by the master key), its identifying fields
sealed under that key, and the blind index that finds duplicates without decrypting anything."""

from __future__ import annotations

from flask import g, has_app_context, has_request_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, func, select

import audit
from cases.models import IDENTITY_FIELDS, BlindIndexEntry, Case, CaseKey
from extensions import db
from security import fields as crypto
from security import keystore, rotation
from security.blind_index import Reindexer, blind_index, normalise_contact, normalise_name


class CaseError(ValueError):
    """A case rule was broken; the message is safe to show."""


def data_key(case: Case) -> bytes:
    if case.key is None:
        raise CaseError(_("This case was purged: its contents no longer exist."))
    wrapped = crypto.WrappedKey(case.key.master_key_id, case.key.wrapped_key)
    return keystore.unwrap(wrapped, case.id)


def new_case_key(case: Case) -> CaseKey:
    """A fresh data key for a new case, wrapped the way this installation keeps keys."""
    wrapped = keystore.new_wrapped_key(case.id)
    return CaseKey(
        case_id=case.id, master_key_id=wrapped.master_key_id, wrapped_key=wrapped.wrapped
    )


def encrypt(case: Case, value: str | None, field: str) -> bytes | None:
    if not value:
        return None
    return crypto.encrypt(data_key(case), value, case.id, field)


def decrypt(case: Case, blob: bytes | None, field: str) -> str | None:
    """A field opened: every reader of case contents passes here (detail, edit, money,
    notes, export, break-glass reasons, anything later), so this is where a read is audited."""
    if blob is None:
        return None
    _audit_opening(case)
    return crypto.decrypt(data_key(case), blob, case.id, field)


def reading_key(case: Case) -> bytes:
    """The data key for a reader who opens many ciphertexts at once (a document's chunks),
    unwrapped once; the opening is audited here, as in `decrypt`."""
    _audit_opening(case)
    return data_key(case)


OPENED_KEY = "cases_opened"


def _audit_opening(case: Case) -> None:
    """One `case.decrypted` audit record per case and request (or command), by whoever is
    signed in; the caller's transaction carries it, as every audit record."""
    if not has_app_context():
        return
    opened: set[str] = g.setdefault(OPENED_KEY, set())
    if case.id in opened:
        return
    opened.add(case.id)
    reader = current_user if has_request_context() and current_user.is_authenticated else None
    audit.record(reader, "case.decrypted", "case", case.id)


def read_identity(case: Case) -> dict[str, str | None]:
    """The identifying fields, decrypted (a DecryptionError names the bad field)."""
    return {field: decrypt(case, getattr(case, f"{field}_enc"), field) for field in IDENTITY_FIELDS}


def index_entries(values: dict[str, str | None]) -> list[tuple[str, str]]:
    """The (kind, digest) pairs of these identity values under the current BLIND_INDEX_KEY."""
    entries: list[tuple[str, str]] = []
    for field in ("legal_name", "known_as"):
        for name in (values.get(field) or "").replace(";", ",").split(","):
            if normalise_name(name):
                entries.append(("name", blind_index("name", normalise_name(name))))
    for handle in (values.get("contact") or "").replace(";", ",").replace("\n", ",").split(","):
        if normalise_contact(handle):
            entries.append(("contact", blind_index("contact", normalise_contact(handle))))
    return entries


def write_identity(case: Case, values: dict[str, str | None]) -> list[str]:
    """Encrypt the identity fields given and rebuild the case's blind index; the digests that
    are new to this case (for cases.duplicates to check)."""
    before = set(
        db.session.scalars(select(BlindIndexEntry.digest).where(BlindIndexEntry.case_id == case.id))
    )
    for field in IDENTITY_FIELDS:
        if field in values:
            setattr(case, f"{field}_enc", encrypt(case, (values[field] or "").strip(), field))
    db.session.execute(delete(BlindIndexEntry).where(BlindIndexEntry.case_id == case.id))
    current = read_identity(case)
    entries = dict.fromkeys(index_entries(current))
    for kind, digest in entries:
        db.session.add(BlindIndexEntry(case_id=case.id, kind=kind, digest=digest))
    return [digest for _, digest in entries if digest not in before]


# --- Master-key rotation (security.rotation asks; the case keys are ours) ------------------


def check_case_keys(old: bytes, new: bytes) -> None:
    """Before a rotation: every case key is wrapped under the old or the new master key."""
    key_ids = db.session.scalars(select(CaseKey.master_key_id).distinct())
    file_key_ids = (key_id for key_id in key_ids if not keystore.is_generation(key_id))
    rotation.check_keys(file_key_ids, "case keys", old, new)


def rewrap_case_keys(old: bytes, new: bytes, batch_size: int) -> int:
    """Re-wrap each case's data key under the new master key, a batch per commit (field
    ciphertexts are untouched); the number moved. Resumes where an interrupted run stopped."""
    old_id, moved = crypto.key_id(old), 0
    while True:
        batch = db.session.scalars(
            select(CaseKey).where(CaseKey.master_key_id == old_id).limit(batch_size)
        ).all()
        if not batch:
            return moved
        for case_key in batch:
            wrapped_key = crypto.WrappedKey(case_key.master_key_id, case_key.wrapped_key)
            key = crypto.unwrap(wrapped_key, case_key.case_id, old)
            wrapped = crypto.wrap(key, case_key.case_id, new)
            case_key.master_key_id, case_key.wrapped_key = wrapped.master_key_id, wrapped.wrapped
        db.session.commit()
        moved += len(batch)


CASE_KEYS = rotation.Resealer("case keys", "wrapped", check_case_keys, rewrap_case_keys)


# --- Key generations in the token (security.keystore asks; the case keys are ours) --------------


def case_key_counts() -> dict[str, int]:
    """How many case data keys are wrapped under each key id (generation or file key)."""
    rows = db.session.execute(
        select(CaseKey.master_key_id, func.count()).group_by(CaseKey.master_key_id)
    )
    return {key_id: count for key_id, count in rows}


def rewrap_onto_generation(generation_id: str, batch_size: int) -> int:
    """Re-wrap every case data key not yet under the generation onto it, a batch per commit;
    the number moved. Field ciphertexts are untouched."""
    moved = 0
    while True:
        batch = db.session.scalars(
            select(CaseKey).where(CaseKey.master_key_id != generation_id).limit(batch_size)
        ).all()
        if not batch:
            return moved
        for case_key in batch:
            wrapped_key = crypto.WrappedKey(case_key.master_key_id, case_key.wrapped_key)
            key = keystore.unwrap(wrapped_key, case_key.case_id)
            wrapped = keystore.wrap_under(generation_id, key, case_key.case_id)
            case_key.master_key_id, case_key.wrapped_key = wrapped.master_key_id, wrapped.wrapped
        db.session.commit()
        moved += len(batch)


CASE_KEY_HOLDER = keystore.KeyHolder("case keys", case_key_counts, rewrap_onto_generation)


# --- Blind-index key rotation (security.blind_index asks; the cases' index is ours) ---------

INDEXED_FIELDS = ("legal_name", "known_as", "contact")
BLIND_INDEX_ROTATED = "keys.blind_index_rotated"


def _indexed_identity(case: Case) -> dict[str, str | None]:
    """The fields the index is built from, decrypted without a `case.decrypted` record each:
    only reindex_cases calls this, and it audits the whole run in one record instead."""
    key = data_key(case)
    values: dict[str, str | None] = {}
    for field in INDEXED_FIELDS:
        blob = getattr(case, f"{field}_enc")
        values[field] = None if blob is None else crypto.decrypt(key, blob, case.id, field)
    return values


def reindex_cases(batch_size: int) -> int:
    """Recompute every live case's blind index under the current BLIND_INDEX_KEY, a batch per
    commit; the number of cases. Run again after an interruption, it recomputes them all, so
    no entry under the old key is left; the run is one `keys.blind_index_rotated` record."""
    purged = select(Case.id).where(Case.purged_at.is_not(None))
    db.session.execute(delete(BlindIndexEntry).where(BlindIndexEntry.case_id.in_(purged)))
    last_id, count = "", 0
    while True:
        batch = db.session.scalars(
            select(Case)
            .where(Case.purged_at.is_(None), Case.id > last_id)
            .order_by(Case.id)
            .limit(batch_size)
            .with_for_update()  # an edit meanwhile waits, then rebuilds its own entries
        ).all()
        if not batch:
            break
        ids = [case.id for case in batch]
        entries = {case.id: dict.fromkeys(index_entries(_indexed_identity(case))) for case in batch}
        db.session.execute(delete(BlindIndexEntry).where(BlindIndexEntry.case_id.in_(ids)))
        for case_id, pairs in entries.items():
            for kind, digest in pairs:
                db.session.add(BlindIndexEntry(case_id=case_id, kind=kind, digest=digest))
        db.session.commit()
        last_id, count = ids[-1], count + len(ids)
    audit.record(None, BLIND_INDEX_ROTATED, "case", count=count)
    db.session.commit()
    return count


CASE_INDEX = Reindexer("duplicate index", "case", reindex_cases)
