"""Drives: creating and changing them (audited), their window, and finding them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

import audit
from extensions import db
from fundraising.models import Donation, Drive, DriveStatus, DriveTotals
from fundraising.money import SUPPORTED, exponent
from security.clock import now

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")


class FundraisingError(ValueError):
    """A rule was broken; the message is safe to show."""


# Built once: on the donate path, building this select and its loader option for every gift
# cost more CPU than running it.
DRIVE_BY_SLUG = (
    select(Drive).options(joinedload(Drive.totals)).where(Drive.slug == bindparam("slug"))
)


def get_drive(slug: str) -> Drive | None:
    """A drive and its totals, by slug, in one query."""
    return db.session.scalar(DRIVE_BY_SLUG, {"slug": slug})


def is_open(drive: Drive, at: datetime | None = None) -> bool:
    """Taking gifts: live, and inside its window."""
    moment = at or now()
    return drive.status is DriveStatus.LIVE and drive.starts_at <= moment < drive.ends_at


def create_drive(
    *,
    slug: str,
    title: str,
    goal_minor: int,
    currency: str,
    starts_at: datetime,
    ends_at: datetime,
    story: str = "",
    status: DriveStatus = DriveStatus.LIVE,
    minimum_minor: int | None = None,
    suggested_minor: list[int] | None = None,
    closes_at_goal: bool = False,
    actor: Any = None,
) -> Drive:
    """Create a drive and its totals row."""
    currency = currency.lower()
    if currency not in SUPPORTED:
        raise FundraisingError(f"Currency {currency.upper()} is not supported.")
    # The admin form checks these too; the CLI and other callers come through here alone.
    if not SLUG_PATTERN.fullmatch(slug):
        raise FundraisingError(
            "The address may use lower-case letters, digits and - only (at most 80)."
        )
    if not title.strip() or len(title.strip()) > 160:
        raise FundraisingError("The drive needs a title of at most 160 characters.")
    if ends_at <= starts_at:
        raise FundraisingError("The drive must end after it starts.")
    if goal_minor <= 0:
        raise FundraisingError("The goal must be more than zero.")
    if get_drive(slug) is not None:
        raise FundraisingError("A drive with this address already exists.")
    unit = 10 ** exponent(currency)
    drive = Drive(
        slug=slug,
        title=title.strip(),
        story=story,
        goal_minor=goal_minor,
        currency=currency,
        starts_at=starts_at,
        ends_at=ends_at,
        status=status,
        minimum_minor=minimum_minor or default_minimum(currency),
        suggested_amounts=",".join(
            str(amount) for amount in (suggested_minor or [25 * unit, 50 * unit, 100 * unit])
        ),
        closes_at_goal=closes_at_goal,
    )
    drive.totals = DriveTotals(
        raised_minor=0,
        donors=0,
        gross_minor=0,
        refunded_minor=0,
        lost_disputes_minor=0,
        version=0,
    )
    db.session.add(drive)
    db.session.flush()
    audit.record(actor, "drive.created", "drive", drive.id, status=status.value)
    return drive


def default_minimum(currency: str) -> int:
    """A minimum that stops card testing with tiny charges: 5 major units (500 for JPY-like)."""
    return 500 if exponent(currency) == 0 else 5 * 10 ** exponent(currency)


def maximum_minor(currency: str) -> int:
    """The configured largest single gift, in this currency's minor units."""
    major = int(current_app.config["DONATION_MAX_MAJOR"])
    return major * (100 if exponent(currency) == 0 else 10 ** exponent(currency))


def set_drive_status(drive: Drive, status: DriveStatus, *, actor: Any) -> None:
    """Open or close a drive by hand; audited."""
    old = drive.status
    drive.status = status
    drive.closed_at = now() if status is DriveStatus.CLOSED else None
    audit.record(
        actor,
        "drive.status_changed",
        "drive",
        drive.id,
        from_status=old.value,
        to_status=status.value,
    )


def update_drive(drive: Drive, *, actor: Any, **values: Any) -> None:
    """Change a drive's settings; its currency is fixed once a gift has been made."""
    currency = values.get("currency", drive.currency).lower()
    if currency != drive.currency and count_donations(drive.id):
        raise FundraisingError("The currency cannot change after gifts have been made.")
    if currency not in SUPPORTED:
        raise FundraisingError(f"Currency {currency.upper()} is not supported.")
    starts_at = values.get("starts_at", drive.starts_at)
    ends_at = values.get("ends_at", drive.ends_at)
    if ends_at <= starts_at:
        raise FundraisingError("The drive must end after it starts.")
    slug = values.get("slug", drive.slug)
    if slug != drive.slug and get_drive(slug) is not None:
        raise FundraisingError("A drive with this address already exists.")
    for name, value in values.items():
        setattr(drive, name, value)
    audit.record(actor, "drive.updated", "drive", drive.id)


def extend_drive(drive: Drive, ends_at: datetime, *, actor: Any) -> None:
    """Move the end later (and reopen a drive that had closed at its end time)."""
    if ends_at <= max(drive.ends_at, now()):
        raise FundraisingError("The new end must be later than the current end and than now.")
    drive.ends_at = ends_at
    if drive.status is DriveStatus.CLOSED:
        drive.status = DriveStatus.LIVE
        drive.closed_at = None
    audit.record(actor, "drive.extended", "drive", drive.id, to_status=drive.status.value)


def all_drives() -> list[Drive]:
    """Every drive, newest first, with totals (for the admin list)."""
    return list(
        db.session.scalars(
            select(Drive).options(joinedload(Drive.totals)).order_by(Drive.created_at.desc())
        )
    )


def live_drives() -> list[Drive]:
    """Drives open now, soonest ending first."""
    moment = now()
    return list(
        db.session.scalars(
            select(Drive)
            .options(joinedload(Drive.totals))
            .where(
                Drive.status == DriveStatus.LIVE, Drive.starts_at <= moment, Drive.ends_at > moment
            )
            .order_by(Drive.ends_at)
        )
    )


def count_donations(drive_id: int) -> int:
    return int(
        db.session.scalar(select(func.count(Donation.id)).where(Donation.drive_id == drive_id)) or 0
    )
