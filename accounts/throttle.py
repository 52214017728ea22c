"""Throttle, don't lock: failed sign-ins slow the next attempt, never lock an account.

A hard lockout is a weapon: anyone who knows an admin's email could keep them out during an
emergency. So failures count against two keys, never against the account alone:

- the account *and* the address (network) they came from: a few free failures, then each
  further one doubles the wait before the next attempt from there, up to THROTTLE_MAX_SECONDS;
- the address alone, across every account, with a larger allowance (one address trying many
  accounts).

An outsider's failures from one address never slow the real user at another. Sign-in (both
steps), re-authentication and the password change all count the same way. Many failures for
one account from everywhere (a spread-out guessing attack) raise a security event instead:
with TOTP required, a guessed password alone opens nothing. Keys are HMACs under SECRET_KEY of
the email and the network, so the table holds no address and no email in clear; entries
forget their failures a day after the last one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

import audit
from accounts.models import LoginThrottle
from audit.models import AuditRecord
from extensions import db
from security.clock import now

PAIR_FREE_FAILURES = 3
NETWORK_FREE_FAILURES = 10
FORGET_AFTER = timedelta(hours=24)
ALARM = "account.failures_alarm"


class Throttled(Exception):
    """Too many recent failures from this address: wait before trying again."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        super().__init__(
            ngettext(
                "Too many failed attempts from here. Wait %(num)d second, then try again.",
                "Too many failed attempts from here. Wait %(num)d seconds, then try again.",
                seconds,
            )
        )


def _key(*parts: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, "throttle|".join(parts).encode(), hashlib.sha256).hexdigest()


def _keys(email: str, network: str) -> list[tuple[str, int]]:
    """The two keys a failure counts against, each with its free allowance."""
    email = email.strip().lower()
    return [
        (_key("pair", email, network), PAIR_FREE_FAILURES),
        (_key("network", network), NETWORK_FREE_FAILURES),
    ]


def check(email: str, network: str) -> None:
    """Throttled when either key must still wait; nothing is checked or counted then."""
    moment = now()
    keys = [key for key, _ in _keys(email, network)]
    waits = [
        wait
        for wait in db.session.scalars(
            select(LoginThrottle.next_allowed_at).where(
                LoginThrottle.key.in_(keys), LoginThrottle.next_allowed_at > moment
            )
        )
        if wait is not None
    ]
    if waits:
        raise Throttled(max(1, math.ceil((max(waits) - moment).total_seconds())))


def _row(key: str) -> LoginThrottle:
    """The key's row, locked (created first when missing, whoever gets there first)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failure_at=now())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return db.session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _delay(failures: int, free: int) -> timedelta | None:
    if failures <= free:
        return None
    seconds = min(2 ** (failures - free - 1), current_app.config["THROTTLE_MAX_SECONDS"])
    return timedelta(seconds=seconds)


def register_failure(email: str, network: str, user_id: int | None) -> None:
    """Count a failure against the account-and-address and the address; alarm the admins
    when one account fails from everywhere."""
    moment = now()
    for key, free in _keys(email, network):
        row = _row(key)
        if moment - row.last_failure_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = moment
        delay = _delay(row.failures, free)
        row.next_allowed_at = moment + delay if delay else None
    if user_id is not None:
        _alarm_if_spread(user_id, moment)


def _alarm_if_spread(user_id: int, moment: datetime) -> None:
    since = moment - timedelta(hours=1)
    failures = db.session.scalar(
        select(func.count(AuditRecord.id)).where(
            AuditRecord.action == "login.failed",
            AuditRecord.object_type == "user",
            AuditRecord.object_id == str(user_id),
            AuditRecord.created_at > since,
        )
    )
    if failures == current_app.config["FAILED_SIGN_IN_ALARM"]:
        audit.record(None, ALARM, "user", user_id, count=failures)


def clear(email: str, network: str) -> None:
    """A success from this address forgets the failures of this account from there."""
    pair, _ = _keys(email, network)[0]
    row = db.session.get(LoginThrottle, pair)
    if row is not None:
        db.session.delete(row)
