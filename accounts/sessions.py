"""Server-side staff sessions: the cookie carries a random token, the table holds its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import ColumnElement, CursorResult, delete, select, true

from accounts.models import SessionStage, StaffSession, User
from extensions import db
from security.clock import now

PENDING_MINUTES = 5
TOUCH_SECONDS = 30


def hash_token(token: str) -> str:
    """SHA-256 of a token, as stored: a database leak yields no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A 256-bit random token and its hash."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def start_session(
    user: User | None, stage: SessionStage, *, is_password_ok: bool = False
) -> tuple[str, StaffSession]:
    """Create a session row and return the token for the cookie (and clear out expired ones:
    lookups never write, so this is where old rows go)."""
    end_expired_sessions()
    token, token_hash = new_token()
    moment = now()
    session_row = StaffSession(
        token_hash=token_hash,
        user_id=user.id if user else None,
        stage=stage,
        is_password_ok=is_password_ok,
        created_at=moment,
        last_seen_at=moment,
        reauthenticated_at=moment if stage is SessionStage.ACTIVE else None,
    )
    db.session.add(session_row)
    db.session.flush()
    return token, session_row


def _is_expired(session_row: StaffSession) -> bool:
    moment = now()
    config = current_app.config
    if session_row.stage is SessionStage.ACTIVE:
        idle = timedelta(minutes=config["SESSION_IDLE_MINUTES"])
        absolute = timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])
    else:
        idle = absolute = timedelta(
            minutes=PENDING_MINUTES if session_row.stage is SessionStage.PENDING else 30
        )
    return moment - session_row.last_seen_at > idle or moment - session_row.created_at > absolute


def find_session(token: str | None, stage: SessionStage) -> StaffSession | None:
    """The live session for a cookie token at the given stage, or None. A lookup only: it
    writes nothing (expired rows are removed by `end_expired_sessions` at each sign-in, and
    the request loader keeps an active session's last-seen time with `touch`)."""
    if not token or len(token) > 128:
        return None
    session_row = db.session.scalar(
        select(StaffSession).where(StaffSession.token_hash == hash_token(token))
    )
    if session_row is None or session_row.stage is not stage:
        return None
    user = session_row.user
    # A pending sign-in is judged by complete_login after password and code, so that a
    # deactivated or unvetted account gives the same answer as a wrong password until then.
    usable_user = (
        user is None
        or stage is SessionStage.PENDING
        or (user.is_active and (user.is_vetted or stage is not SessionStage.ACTIVE))
    )
    if _is_expired(session_row) or not usable_user:
        return None
    return session_row


def touch(session_row: StaffSession) -> bool:
    """Move an active session's last-seen time on, at most every TOUCH_SECONDS (the idle
    timeout counts from it); whether it changed. The caller commits."""
    if (now() - session_row.last_seen_at).total_seconds() <= TOUCH_SECONDS:
        return False
    session_row.last_seen_at = now()
    return True


def end_session(session_row: StaffSession) -> None:
    """End one session."""
    db.session.delete(session_row)
    db.session.flush()


def end_all_sessions(user: User) -> int:
    """End every session of a user at once, on every worker; return how many ended."""
    return _delete_sessions(StaffSession.user_id == user.id)


def end_every_session() -> int:
    """End every staff session there is (an emergency lockdown); return how many ended."""
    return _delete_sessions(true())


def _delete_sessions(which: ColumnElement[bool]) -> int:
    result = cast(CursorResult[Any], db.session.execute(delete(StaffSession).where(which)))
    db.session.expire_all()
    return int(result.rowcount or 0)


def end_expired_sessions() -> None:
    """Remove rows whose time is up (at each sign-in; lookups ignore them anyway)."""
    moment = now()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    db.session.execute(
        delete(StaffSession).where(
            (StaffSession.last_seen_at < moment - idle)
            | (StaffSession.created_at < moment - absolute)
        )
    )
