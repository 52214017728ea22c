"""Card-testing defence on the public donate form, which nobody can turn against a drive.

Card testers post many gifts with stolen card numbers to learn which cards still work. Two
defences, both counted in the rate limiter's storage (memory in one process; Redis when there
are several workers or hosts, RATELIMIT_STORAGE_URI):

- Per address (DONATE_RATE_LIMIT_PER_IP, the view's limit): only attempts that reach Stripe
  count, so junk posts that fail validation cost the poster nothing and cost donors nothing
  either; IPv6 is counted per /64 (security/addresses.py).
- A decline-rate breaker per drive, in place of a hard per-drive limit (which anyone could
  fill with junk to make a drive refuse real donors in its busiest hour): when a drive's
  declines in a short window pass CARD_TESTING_DECLINES and make up at least
  CARD_TESTING_DECLINE_SHARE of its attempts, the breaker trips for CARD_TESTING_HOLD_MINUTES.
  While it is tripped, an address that had a decline on that drive in the window is refused;
  everyone else, and every good card, still goes through. Tripping writes an audit record
  (counts only, never an address) and the admins' drives page shows a banner.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select

from audit import services as audit
from audit.models import AuditRecord
from extensions import db, limiter
from security import transactions
from security.clock import now

log = logging.getLogger(__name__)

SUSPECTED = "drive.card_testing_suspected"
NEVER_REACHED = 2**31 - 1  # a counter's "limit": the window is read, never refused


@dataclass(frozen=True)
class Trip:
    """What tripped the breaker: the drive's declines and attempts in the window."""

    declines: int
    attempts: int


@dataclass(frozen=True)
class Suspicion:
    """A tripped breaker, as the admins' banner shows it."""

    drive_id: int
    since: datetime
    until: datetime
    declines: int
    attempts: int


def _is_active() -> bool:
    return bool(limiter.enabled) and bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _threshold() -> RateLimitItem:
    return parse(str(current_app.config["CARD_TESTING_DECLINES"]))


def _counter() -> RateLimitItem:
    """A counter over the same window as the threshold."""
    threshold = _threshold()
    return type(threshold)(NEVER_REACHED, threshold.multiples, "CARD-TESTING")


def _hold_seconds() -> int:
    return int(current_app.config["CARD_TESTING_HOLD_MINUTES"]) * 60


def _count(item: RateLimitItem, *identifiers: str) -> int:
    stats = FixedWindowRateLimiter(limiter.storage).get_window_stats(item, *identifiers)
    return item.amount - stats.remaining


def _tripped_key(drive_id: int) -> str:
    return f"card-testing/tripped/{drive_id}"


def _declined_key(drive_id: int, network: str) -> str:
    return f"card-testing/declined/{drive_id}/{network}"


def is_refused(drive_id: int, network: str) -> bool:
    """True while the drive's breaker is tripped, for an address with a decline there."""
    if not _is_active():
        return False
    storage = limiter.storage
    return (
        storage.get(_tripped_key(drive_id)) > 0
        and storage.get(_declined_key(drive_id, network)) > 0
    )


def retry_after_seconds() -> int:
    """How long a refused address is asked to wait: the breaker's window."""
    return int(_threshold().get_expiry())


def record_attempt(drive_id: int) -> None:
    """A gift for the drive is about to reach Stripe."""
    if _is_active():
        FixedWindowRateLimiter(limiter.storage).hit(_counter(), "attempts", str(drive_id))


def record_decline(drive_id: int, network: str) -> Trip | None:
    """Stripe declined a card for the drive; the Trip if this decline tripped the breaker."""
    if not _is_active():
        return None
    storage = limiter.storage
    storage.incr(_declined_key(drive_id, network), retry_after_seconds())
    counter = _counter()
    FixedWindowRateLimiter(storage).hit(counter, "declines", str(drive_id))
    declines = _count(counter, "declines", str(drive_id))
    attempts = max(_count(counter, "attempts", str(drive_id)), declines)
    share = float(current_app.config["CARD_TESTING_DECLINE_SHARE"])
    if declines < _threshold().amount or declines < share * attempts:
        return None
    if storage.incr(_tripped_key(drive_id), _hold_seconds()) != 1:
        return None  # already tripped: told once per hold
    trip = Trip(declines=declines, attempts=attempts)
    log.warning(
        "card testing suspected on drive %s: %d declines of %d attempts",
        drive_id,
        declines,
        attempts,
    )
    transactions.committed(
        lambda: audit.record(None, SUSPECTED, "drive", drive_id, count=declines, attempts=attempts)
    )
    return trip


def suspicions() -> dict[int, Suspicion]:
    """Drives whose breaker tripped within the hold, by drive id (the latest trip of each)."""
    hold = timedelta(seconds=int(current_app.config["CARD_TESTING_HOLD_MINUTES"]) * 60)
    records = db.session.scalars(
        select(AuditRecord)
        .where(AuditRecord.action == SUSPECTED, AuditRecord.created_at >= now() - hold)
        .order_by(AuditRecord.id)
    )
    found: dict[int, Suspicion] = {}
    for record in records:
        details = json.loads(record.details or "{}")
        drive_id = int(record.object_id or 0)
        found[drive_id] = Suspicion(
            drive_id=drive_id,
            since=record.created_at,
            until=record.created_at + hold,
            declines=int(details.get("count", 0)),
            attempts=int(details.get("attempts", 0)),
        )
    return found
