"""Write and verify the audit chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from audit.models import GENESIS_HASH, AuditHead, AuditRecord
from extensions import db
from security import keystore
from security.clock import now
from security.token import Token, TokenError

# Details are free-form only within this list: nothing else (a password, a TOTP secret, a
# name or place of a person in a case) can reach the log by accident.
ALLOWED_DETAIL_KEYS = frozenset(
    {
        "amount_minor",
        "attempts",
        "category",
        "count",
        "currency",
        "document",  # a case document's random id
        "drive",
        "expires_at",
        "fields",
        "from_stage",
        "from_status",
        "links_revoked",
        "locale",  # a language code ("es"): which translation of a drive or update changed
        "locked_minutes",
        "method",
        "new_role",
        "old_role",
        "outcome",
        "reason",
        "risk",
        "role",
        "scope",
        "sessions_ended",
        "staff",
        "status",
        "task",  # a case task's random id
        "to_stage",
        "to_status",
    }
)
MAX_DETAIL_LENGTH = 500
HEAD_ID = 1


class AuditDetailError(ValueError):
    """A detail key outside the allow-list, or a value that is not a short scalar."""


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: whole, or the first bad record and why."""

    checked: int
    bad_record_id: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS_HASH
    head_record_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _clean_details(details: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(details) - ALLOWED_DETAIL_KEYS)
    if unknown:
        raise AuditDetailError(f"audit detail keys not allowed: {', '.join(unknown)}")
    for key, value in details.items():
        if not isinstance(value, str | int | bool | type(None)):
            raise AuditDetailError(f"audit detail {key} must be a string, number or boolean")
        if isinstance(value, str) and len(value) > MAX_DETAIL_LENGTH:
            raise AuditDetailError(f"audit detail {key} is longer than {MAX_DETAIL_LENGTH}")
    return details


def compute_hash(
    previous_hash: str,
    created_at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str | None,
    details: str,
) -> str:
    """SHA-256 over the previous hash and this record's canonical content."""
    return hashlib.sha256(
        _content(previous_hash, created_at, actor_id, action, object_type, object_id, details)
    ).hexdigest()


def _content(
    previous_hash: str,
    created_at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str | None,
    details: str,
) -> bytes:
    content = json.dumps(
        [
            previous_hash,
            created_at.isoformat(timespec="microseconds"),
            actor_id,
            action,
            object_type,
            object_id,
            details,
        ],
        separators=(",", ":"),
    )
    return content.encode()


# --- Links keyed in the token ------------------------------------------------------------------
# With a PKCS#11 token configured, each record's link is an HMAC-SHA256 under a key that lives
# in the token, so someone who can write the database cannot re-chain the log: they can delete
# or change records, but not compute the links that verify. The key is created with the first
# keyed record; its CKA_ID, fixed in the token, says after which record links are keyed, so
# nobody can pass keyed records off as plain SHA-256 ones. Without a token (the embedded
# default) links stay SHA-256, and anchors (audit/anchors.py) are what catches a re-chain.

LINK_KEY_LABEL = "safe-passage-audit-link"
LINK_KEY_PREFIX = b"audit-links-after:"


@dataclass(frozen=True)
class _LinkKey:
    token: Token
    after_record_id: int


def _link_key(create_after: int | None = None) -> _LinkKey | None:
    """The token's audit link key, created (keying records after `create_after`) if asked."""
    token = keystore.token()
    if token is None:
        return None
    found = token.key_id_of(LINK_KEY_LABEL)
    if found is None:
        if create_after is None:
            return None
        token.create_hmac_key(LINK_KEY_LABEL, LINK_KEY_PREFIX + str(create_after).encode())
        found = token.key_id_of(LINK_KEY_LABEL)
    if found is None or not found.startswith(LINK_KEY_PREFIX):
        raise TokenError(f"the token's {LINK_KEY_LABEL} key is not one this app made")
    return _LinkKey(token, int(found[len(LINK_KEY_PREFIX) :]))


def _keyed_hash(key: _LinkKey, *fields: Any) -> str:
    return key.token.hmac(LINK_KEY_LABEL, _content(*fields)).hex()


def _lock_chain() -> None:
    # PostgreSQL: one writer extends the chain at a time. SQLite serialises writers itself.
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(724001)"))


class Actor(Protocol):
    """Whoever acted, as the audit log knows them: anything with a staff id (accounts' User;
    the log knows no domain). An int is a staff id; None is the system itself."""

    @property
    def id(self) -> int: ...


LISTENERS_KEY = "audit_listeners"


def add_listener(app: Flask, listener: Callable[[AuditRecord], None]) -> None:
    """Have a function called with every record as it is appended (inside the transaction:
    a listener that acts outside the database waits for the commit itself)."""
    listeners: list[Callable[[AuditRecord], None]] = app.extensions.setdefault(LISTENERS_KEY, [])
    if listener not in listeners:
        listeners.append(listener)


def record(
    actor: Actor | int | None,
    action: str,
    object_type: str,
    object_id: object = None,
    **details: Any,
) -> AuditRecord:
    """Append an audit record in the caller's transaction (added and flushed, not committed)."""
    clean = json.dumps(_clean_details(details), sort_keys=True, separators=(",", ":"))
    actor_id = actor if isinstance(actor, int) or actor is None else actor.id
    _lock_chain()
    head = db.session.get(AuditHead, HEAD_ID, with_for_update=True)
    previous_hash = head.last_hash if head else GENESIS_HASH
    created_at = now()
    object_key = None if object_id is None else str(object_id)
    link_key = _link_key(create_after=head.last_record_id if head else 0)
    content = (previous_hash, created_at, actor_id, action, object_type, object_key, clean)
    entry = AuditRecord(
        created_at=created_at,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_key,
        details=clean,
        previous_hash=previous_hash,
        record_hash=compute_hash(*content) if link_key is None else _keyed_hash(link_key, *content),
    )
    db.session.add(entry)
    db.session.flush()
    if head is None:
        db.session.add(AuditHead(id=HEAD_ID, last_record_id=entry.id, last_hash=entry.record_hash))
    else:
        head.last_record_id = entry.id
        head.last_hash = entry.record_hash
    db.session.flush()
    for listener in current_app.extensions.get(LISTENERS_KEY, ()):
        listener(entry)
    return entry


def verify_chain(batch_size: int = 5000, session: Session | None = None) -> ChainReport:
    """Walk the chain in order; report the first record that was changed, removed or inserted.
    `session` reads another database than the app's (a restored backup's copy)."""
    database = db.session if session is None else session
    expected_previous = GENESIS_HASH
    checked = 0
    last_id = 0
    link_key = _link_key()
    while True:
        rows = database.scalars(
            select(AuditRecord)
            .where(AuditRecord.id > last_id)
            .order_by(AuditRecord.id)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.previous_hash != expected_previous:
                # Ids may skip (a rolled-back transaction uses one up); the hashes may not.
                return ChainReport(
                    checked,
                    row.id,
                    "does not follow the record before it (one removed or inserted)",
                )
            content = (
                row.previous_hash,
                row.created_at,
                row.actor_id,
                row.action,
                row.object_type,
                row.object_id,
                row.details,
            )
            keyed = link_key is not None and row.id > link_key.after_record_id
            recomputed = (
                _keyed_hash(link_key, *content)
                if keyed and link_key is not None
                else compute_hash(*content)
            )
            if recomputed != row.record_hash:
                problem = "content does not match its hash"
                if keyed:
                    problem += " (its link is keyed in the token: re-chained without the token?)"
                elif link_key is None and keystore.token() is None:
                    problem += " (or it is keyed in a PKCS#11 token this app is not configured for)"
                return ChainReport(checked, row.id, problem)
            expected_previous = row.record_hash
            last_id = row.id
            checked += 1
        database.expunge_all()
    head = database.get(AuditHead, HEAD_ID)
    if head is not None and last_id > head.last_record_id:
        # The chain links up, but the log never wrote these: someone appended them by hand.
        added = database.scalar(
            select(func.min(AuditRecord.id)).where(AuditRecord.id > head.last_record_id)
        )
        return ChainReport(checked, added, "was added after the newest record the log wrote")
    if head is not None and (head.last_record_id != last_id or head.last_hash != expected_previous):
        return ChainReport(
            checked, head.last_record_id, "records at the end of the log are missing"
        )
    if head is None and checked:
        return ChainReport(checked, last_id, "the chain head is missing")
    return ChainReport(checked, head_hash=expected_previous, head_record_id=last_id or None)
