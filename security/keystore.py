"""Data keys wrapped by key-encryption keys that never leave a PKCS#11 token, in generations.

With a token configured (PKCS11_MODULE), every new data key is wrapped in the token under the
current generation: an AES-256 key created there, never extractable. `keys rotate-generation`
(on a timer) starts a new generation every KEY_GENERATION_DAYS, asks each package holding
wrapped keys (its KeyHolder) to re-wrap them under it, and destroys in the token every
generation superseded at least BACKUP_RETENTION_DAYS ago. A backup taken while a case was open
holds its data key wrapped under a generation that is destroyed before the retention deletes
the backup, so once a case is purged no copy of it opens, even with every key and PIN the
server holds. An emergency rotation destroys every older generation at once.

Without a token the file master key (CASE_MASTER_KEY, security.fields) wraps data keys: the
embedded default, which production refuses unless ALLOW_SOFTWARE_KEYS=1. A wrapped key names
what wrapped it: a token generation ("t000001") or a file key (16 hex digits), so both kinds
read side by side while `keys rotate-master --to-token` moves them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import select

from extensions import db
from security import fields
from security.clock import now
from security.models import KeyGeneration
from security.token import KeyMissing, Token, TokenError

GENERATION_PREFIX = "t"
LABEL_PREFIX = "safe-passage-kek-"
WRAP_VERSION = b"\x02"
EXTENSION = "keystore_token"
HOLDERS_KEY = "key_holders"

log = logging.getLogger(__name__)


class KeystoreError(RuntimeError):
    """A key operation cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class KeyHolder:
    """A package's wrapped data keys. `counts()` gives how many are under each key id;
    `rewrap(generation_id, batch_size)` moves every key not under that generation onto it
    (through keystore.unwrap and wrap_under), committing per batch, and returns how many."""

    label: str
    counts: Callable[[], dict[str, int]]
    rewrap: Callable[[str, int], int]


def init_app(app: Flask) -> None:
    """The token, when one is configured (opened on first use, in each process)."""
    module = app.config.get("PKCS11_MODULE")
    if not module and app.config.get("APP_ENV") != "testing":
        log.warning(
            "keys in software: case data keys are wrapped by the file master key, not a "
            "PKCS#11 token, so a backup and that key open every case in it, purged ones too"
        )
    if module:
        pin = app.config.get("PKCS11_PIN")
        if not pin:
            raise KeystoreError("PKCS11_MODULE is set but PKCS11_PIN (or PKCS11_PIN_FILE) is not")
        label = app.config.get("PKCS11_TOKEN_LABEL") or "safe-passage"
        app.extensions[EXTENSION] = Token(str(module), str(label), str(pin))


def add_key_holder(app: Flask, holder: KeyHolder) -> None:
    holders: list[KeyHolder] = app.extensions.setdefault(HOLDERS_KEY, [])
    if holder not in holders:
        holders.append(holder)


def holders() -> list[KeyHolder]:
    return list(current_app.extensions.get(HOLDERS_KEY, []))


def token() -> Token | None:
    found: Token | None = current_app.extensions.get(EXTENSION)
    return found


def uses_token() -> bool:
    return token() is not None


def _require_token() -> Token:
    found = token()
    if found is None:
        raise KeystoreError(
            "no PKCS#11 token is configured (PKCS11_MODULE): data keys are under the file "
            "master key, which key generations cannot protect"
        )
    return found


def is_generation(key_id: str) -> bool:
    return key_id.startswith(GENERATION_PREFIX) and key_id[1:].isdigit()


def label_of(generation_id: str) -> str:
    return LABEL_PREFIX + generation_id


def _period() -> timedelta:
    return timedelta(days=int(current_app.config.get("KEY_GENERATION_DAYS", 30)))


def retention() -> timedelta:
    return timedelta(days=int(current_app.config.get("BACKUP_RETENTION_DAYS", 35)))


# --- Wrapping -----------------------------------------------------------------------------------


def current_generation() -> KeyGeneration:
    """The generation new data keys are wrapped under; the first is created on first use."""
    found = db.session.scalar(
        select(KeyGeneration)
        .where(KeyGeneration.superseded_at.is_(None), KeyGeneration.destroyed_at.is_(None))
        .order_by(KeyGeneration.id.desc())
        .limit(1)
    )
    return found if found is not None else _new_generation()


def _new_generation() -> KeyGeneration:
    """Create the next generation's key in the token and its row (flushed, not committed)."""
    token_ = _require_token()
    last = db.session.scalar(select(KeyGeneration.id).order_by(KeyGeneration.id.desc()).limit(1))
    number = int(last[1:]) + 1 if last else 1
    generation = KeyGeneration(id=f"{GENERATION_PREFIX}{number:06d}", created_at=now())
    token_.create_aes_key(label_of(generation.id))
    db.session.add(generation)
    db.session.flush()
    return generation


def _aad(record_id: str) -> bytes:
    return f"data-key:{record_id}".encode()


def wrap_under(generation_id: str, data_key: bytes, record_id: str) -> fields.WrappedKey:
    """A data key wrapped in the token under one generation, bound to its record."""
    nonce = os.urandom(fields.NONCE_BYTES)
    sealed = _require_token().encrypt(label_of(generation_id), nonce, data_key, _aad(record_id))
    return fields.WrappedKey(generation_id, WRAP_VERSION + nonce + sealed)


def wrap(data_key: bytes, record_id: str) -> fields.WrappedKey:
    """A new data key wrapped the way this installation keeps them: the token's current
    generation, or the file master key when no token is configured."""
    if not uses_token():
        return fields.wrap(data_key, record_id)
    return wrap_under(current_generation().id, data_key, record_id)


def new_wrapped_key(record_id: str) -> fields.WrappedKey:
    return wrap(fields.new_data_key(), record_id)


def unwrap(wrapped: fields.WrappedKey, record_id: str) -> bytes:
    """The data key, from whichever kind of key wrapped it; DecryptionError when it cannot be
    opened (another key, a destroyed generation, no token configured)."""
    if not is_generation(wrapped.master_key_id):
        return fields.unwrap(wrapped, record_id)
    found = token()
    if found is None:
        raise fields.DecryptionError(
            f"record {record_id}: its key is wrapped in a PKCS#11 token, and none is configured"
        )
    blob = wrapped.wrapped
    if blob[:1] != WRAP_VERSION:
        raise fields.DecryptionError(f"record {record_id}: its wrapped key has an unknown format")
    nonce, sealed = blob[1 : 1 + fields.NONCE_BYTES], blob[1 + fields.NONCE_BYTES :]
    try:
        return found.decrypt(label_of(wrapped.master_key_id), nonce, sealed, _aad(record_id))
    except KeyMissing as error:
        raise fields.DecryptionError(
            f"record {record_id}: key generation {wrapped.master_key_id} is not in the token "
            "(destroyed): this data no longer exists"
        ) from error
    except TokenError as error:
        raise fields.DecryptionError(f"record {record_id}: its data key does not unwrap") from error


# --- Rotation -----------------------------------------------------------------------------------


@dataclass
class RotationReport:
    current: str
    created: str | None = None
    moved: dict[str, int] = field(default_factory=dict)
    destroyed: list[str] = field(default_factory=list)
    still_in_use: list[str] = field(default_factory=list)


def _in_use() -> dict[str, int]:
    total: dict[str, int] = {}
    for holder in holders():
        for key_id, count in holder.counts().items():
            total[key_id] = total.get(key_id, 0) + count
    return total


def _start_generation(report_created: list[str]) -> KeyGeneration:
    moment = now()
    previous = db.session.scalars(
        select(KeyGeneration).where(
            KeyGeneration.superseded_at.is_(None), KeyGeneration.destroyed_at.is_(None)
        )
    ).all()
    generation = _new_generation()
    for old in previous:
        old.superseded_at = moment
    db.session.commit()
    report_created.append(generation.id)
    return generation


def rotate_generation(force: bool = False, batch_size: int = 200) -> RotationReport:
    """Start a new generation when the current one is KEY_GENERATION_DAYS old (or `force`),
    move every data key onto the current generation, and destroy in the token each generation
    superseded BACKUP_RETENTION_DAYS ago that no data key still uses. Safe to re-run."""
    token_ = _require_token()
    created: list[str] = []
    current = db.session.scalar(
        select(KeyGeneration)
        .where(KeyGeneration.superseded_at.is_(None), KeyGeneration.destroyed_at.is_(None))
        .order_by(KeyGeneration.id.desc())
        .limit(1)
    )
    if current is None or force or now() - current.created_at >= _period():
        current = _start_generation(created)
    report = RotationReport(current.id, created[0] if created else None)
    report.moved = {holder.label: holder.rewrap(current.id, batch_size) for holder in holders()}
    in_use = _in_use()
    due = db.session.scalars(
        select(KeyGeneration)
        .where(
            KeyGeneration.destroyed_at.is_(None),
            KeyGeneration.superseded_at.is_not(None),
            KeyGeneration.superseded_at <= now() - retention(),
        )
        .order_by(KeyGeneration.id)
    ).all()
    for generation in due:
        if in_use.get(generation.id):
            report.still_in_use.append(generation.id)
            continue
        _destroy(token_, generation)
        report.destroyed.append(generation.id)
    return report


def _destroy(token_: Token, generation: KeyGeneration) -> None:
    token_.destroy(label_of(generation.id))
    generation.destroyed_at = now()
    db.session.commit()


def move_to_token(batch_size: int = 200) -> RotationReport:
    """Every data key still under the file master key (or an older generation) moved onto the
    token's current generation (`keys rotate-master --to-token`)."""
    _require_token()
    current = current_generation()
    db.session.commit()
    report = RotationReport(current.id)
    report.moved = {holder.label: holder.rewrap(current.id, batch_size) for holder in holders()}
    return report


def emergency_rotation(batch_size: int = 200) -> RotationReport:
    """A new generation now, every data key moved onto it, and every other generation
    destroyed at once: no existing backup opens any case after this."""
    token_ = _require_token()
    created: list[str] = []
    current = _start_generation(created)
    report = RotationReport(current.id, current.id)
    report.moved = {holder.label: holder.rewrap(current.id, batch_size) for holder in holders()}
    in_use = _in_use()
    others = db.session.scalars(
        select(KeyGeneration)
        .where(KeyGeneration.destroyed_at.is_(None), KeyGeneration.id != current.id)
        .order_by(KeyGeneration.id)
    ).all()
    for generation in others:
        if in_use.get(generation.id):  # a holder failed to move a key: never destroy it
            report.still_in_use.append(generation.id)
            continue
        _destroy(token_, generation)
        report.destroyed.append(generation.id)
    return report


# --- What the purge page promises, and keys status ---------------------------------------------


def backups_unreadable_after() -> datetime | None:
    """For a case purged now: the moment after which no backup, WAL archive, replica or dump
    can open it, if the rotation timer runs (None without a token: the file key opens every
    backup taken before the purge for as long as the backup is kept)."""
    if not uses_token():
        return None
    current = db.session.scalar(
        select(KeyGeneration)
        .where(KeyGeneration.superseded_at.is_(None), KeyGeneration.destroyed_at.is_(None))
        .order_by(KeyGeneration.id.desc())
        .limit(1)
    )
    started = current.created_at if current is not None else now()
    # Superseded at the next rotation, then kept for the retention; the daily timer may run a
    # day late.
    return max(started + _period(), now()) + retention() + timedelta(days=1)


@dataclass(frozen=True)
class GenerationStatus:
    id: str
    created_at: datetime
    superseded_at: datetime | None
    destroyed_at: datetime | None
    in_token: bool
    data_keys: int
    destroy_after: datetime | None


def status() -> tuple[list[GenerationStatus], list[str]]:
    """Each generation (newest first) with where it still exists, and the problems found: keys
    the database says were destroyed still in the token, generations missing from it, a
    rotation overdue."""
    token_ = _require_token()
    labels = token_.labels()
    in_use = _in_use()
    rows: list[GenerationStatus] = []
    problems: list[str] = []
    generations = db.session.scalars(select(KeyGeneration).order_by(KeyGeneration.id.desc())).all()
    for generation in generations:
        present = label_of(generation.id) in labels
        destroy_after = (
            generation.superseded_at + retention()
            if generation.superseded_at is not None and generation.destroyed_at is None
            else None
        )
        rows.append(
            GenerationStatus(
                generation.id,
                generation.created_at,
                generation.superseded_at,
                generation.destroyed_at,
                present,
                in_use.get(generation.id, 0),
                destroy_after,
            )
        )
        if generation.destroyed_at is not None and present:
            problems.append(
                f"{generation.id} was destroyed but this token still holds it "
                "(a restored copy?): run keys rotate-generation"
            )
        if generation.destroyed_at is None and not present:
            problems.append(
                f"{generation.id} is missing from this token: {in_use.get(generation.id, 0)} "
                "data key(s) under it cannot be opened here"
            )
        if destroy_after is not None and destroy_after <= now():
            problems.append(f"{generation.id} is past its retention: run keys rotate-generation")
    known = {label_of(generation.id) for generation in generations}
    for label in sorted(labels - known):
        if label.startswith(LABEL_PREFIX):
            problems.append(f"the token holds {label}, which this database does not know")
    live = [row for row in rows if row.superseded_at is None and row.destroyed_at is None]
    if live and now() - live[0].created_at > _period() + timedelta(days=1):
        problems.append(f"{live[0].id} is older than KEY_GENERATION_DAYS: the rotation is overdue")
    software = sum(count for key_id, count in in_use.items() if not is_generation(key_id))
    if software:
        problems.append(
            f"{software} data key(s) are still under the file master key: "
            "run keys rotate-master --to-token"
        )
    return rows, problems
