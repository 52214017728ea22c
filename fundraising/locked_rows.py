"""A donation row locked for a webhook: read and written with Core statements, no ORM object.

Webhook intake is the one place where donation changes arrive by the hundred per second, and
loading a mapped `Donation` (with its drive), tracking it and flushing it cost several times
more than the SQL itself. A `LockedDonation` holds the same columns as plain attributes, so the
state rules in `fundraising.services` apply to it unchanged, and `save()` writes back only the
columns they changed, in one UPDATE.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Select, Table, bindparam, select, update

from extensions import db
from fundraising.models import (
    CountedGift,
    DisputeStatus,
    Donation,
    DonationStatus,
    Drive,
    DriveStatus,
)

DONATIONS = cast(Table, Donation.__table__)
DRIVES = cast(Table, Drive.__table__)
# The columns the state rules read or write; the sealed donor details are never read here.
COLUMNS = (
    "id",
    "drive_id",
    "amount_minor",
    "status",
    "payment_intent_id",
    "charge_id",
    "amount_refunded_minor",
    "dispute_status",
    "disputed_minor",
    "failure_message",
    "succeeded_at",
    "updated_at",
)


@dataclass
class DriveState:
    """What the goal rule needs to know of the donation's drive."""

    id: int
    status: DriveStatus
    goal_minor: int
    closes_at_goal: bool


class LockedDonation(CountedGift):
    """A donation row held FOR UPDATE until the transaction ends."""

    id: str
    drive_id: int
    amount_minor: int
    status: DonationStatus
    payment_intent_id: str | None
    charge_id: str | None
    amount_refunded_minor: int
    dispute_status: DisputeStatus | None
    disputed_minor: int
    failure_message: str | None
    succeeded_at: datetime | None
    updated_at: datetime

    def __init__(self, connection: Connection, row: Any) -> None:
        self.connection = connection  # the transaction holding the lock
        self._read = {name: getattr(row, name) for name in COLUMNS}
        self.__dict__.update(self._read)
        self.drive = DriveState(
            row.drive_id, row.drive_status, row.drive_goal_minor, row.drive_closes_at_goal
        )

    def _changed(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in COLUMNS if getattr(self, name) != self._read[name]
        }

    def _saved(self, changed: dict[str, Any]) -> None:
        self._read.update(changed)
        loaded = db.session.identity_map.get(db.session.identity_key(Donation, self.id))
        if loaded is not None:
            db.session.expire(loaded)  # a mapped copy read earlier is out of date now

    def save(self) -> None:
        """Write the columns that changed since the row was read (nothing if none did)."""
        changed = self._changed()
        if changed:
            self.connection.execute(_update_for(tuple(changed)), {"key": self.id, **changed})
            self._saved(changed)

    def save_with(self, statement: Any, parameters: dict[str, Any]) -> CursorResult[Any]:
        """Write the changed columns and run `statement` (the drive totals' UPDATE) in one
        round trip where the database allows it: on PostgreSQL the donation's UPDATE rides
        along as a data-modifying WITH. Returns the statement's result."""
        changed = self._changed()
        if not changed or self.connection.dialect.name != "postgresql":
            self.save()
            return self.connection.execute(statement, parameters)
        result = self.connection.execute(
            _riding_along(tuple(changed), statement), {**parameters, "key": self.id, **changed}
        )
        self._saved(changed)
        return result


@functools.cache
def _update_for(names: tuple[str, ...]) -> Any:
    """An UPDATE of these columns by donation id, built once per set of columns (there are
    a handful: a payment, a refund, a dispute)."""
    return (
        update(DONATIONS)
        .where(DONATIONS.c.id == bindparam("key"))
        .values({name: bindparam(name) for name in names})
    )


@functools.cache
def _riding_along(names: tuple[str, ...], statement: Any) -> Any:
    return statement.add_cte(_update_for(names).cte("saved_donation"))


def _locking(key: Any) -> Select[Any]:
    columns = [DONATIONS.c[name] for name in COLUMNS] + [
        DRIVES.c.status.label("drive_status"),
        DRIVES.c.goal_minor.label("drive_goal_minor"),
        DRIVES.c.closes_at_goal.label("drive_closes_at_goal"),
    ]
    # Only the donation row is locked: gifts to one drive do not queue behind each other here
    # (the drive's totals row is moved by a relative UPDATE).
    return (
        select(*columns)
        .join_from(DONATIONS, DRIVES, DRIVES.c.id == DONATIONS.c.drive_id)
        .where(key == bindparam("key"))
        .with_for_update(of=DONATIONS)
    )


# Built once: this runs for every webhook event.
BY_ID = _locking(DONATIONS.c.id)
BY_INTENT = _locking(DONATIONS.c.payment_intent_id)
BY_CHARGE = _locking(DONATIONS.c.charge_id)


def _first(statement: Select[Any], key: Any) -> LockedDonation | None:
    connection = db.session.connection()
    row = connection.execute(statement, {"key": str(key)}).first()
    return LockedDonation(connection, row) if row is not None else None


def lock_for_intent(
    payment_intent_id: str | None, donation_id: str | None = None
) -> LockedDonation | None:
    """The donation behind a PaymentIntent (by our metadata id first, then the intent id)."""
    if donation_id:
        return _first(BY_ID, donation_id)
    if payment_intent_id:
        return _first(BY_INTENT, payment_intent_id)
    return None


def lock_for_charge(charge_id: str) -> LockedDonation | None:
    """The donation whose charge this is."""
    return _first(BY_CHARGE, charge_id)
