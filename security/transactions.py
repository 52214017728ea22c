"""Transactions that a lost race may abort: retried a bounded number of times, then raised.

Two writers of one donation lock its row in the same order everywhere, so a deadlock should
never happen; but the database may still abort a transaction (PostgreSQL detects a deadlock or
a serialisation failure; SQLite's busy timeout runs out under a burst of writers), and the
right answer to that is to run the same work again from the start, not to show an error.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from extensions import db

log = logging.getLogger(__name__)
Result = TypeVar("Result")

# PostgreSQL: deadlock_detected, serialization_failure. SQLite: the lock stayed busy.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
RETRYABLE_SQLITE_ERRORS = frozenset({"SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"})
ATTEMPTS = 4


def is_retryable(error: BaseException) -> bool:
    """Whether the database aborted the transaction for a race that running it again can win."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    if getattr(original, "sqlite_errorname", None) in RETRYABLE_SQLITE_ERRORS:
        return True
    return "database is locked" in str(original)


def committed(work: Callable[[], Result], attempts: int = ATTEMPTS) -> Result:
    """Run `work` and commit; on a retryable abort roll back and run it again, at most
    `attempts` times in all (the last error is raised). `work` must start from the database
    (lock and re-read what it changes), never from values read before it was called."""
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
        except DBAPIError as error:
            db.session.rollback()
            if attempt == attempts or not is_retryable(error):
                raise
            log.warning("transaction aborted (%s); retry %d", type(error.orig).__name__, attempt)
            # A short random pause, growing per attempt, so two racers do not meet again.
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311  (not a secret)
        else:
            return result
    raise AssertionError("unreachable")  # pragma: no cover
