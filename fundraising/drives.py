"""Drives: creating and changing them (audited), their window, and finding them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload

import audit
from accounts.models import User
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


@dataclass(frozen=True)
class DriveSettings:
    """What an admin sets on a drive, parsed: the same rules hold on creation and on change.

    `minimum_minor` None and `suggested_minor` empty mean the currency's defaults when a drive
    is created, and "leave as it is" when one is changed."""

    slug: str
    title: str
    goal_minor: int
    currency: str
    starts_at: datetime
    ends_at: datetime
    story: str = ""
    minimum_minor: int | None = None
    suggested_minor: tuple[int, ...] = ()
    closes_at_goal: bool = False
    is_spending_published: bool = False
    statement_descriptor_suffix: str | None = None
    receipt_description: str | None = None


def _check(settings: DriveSettings, current: Drive | None = None) -> DriveSettings:
    """Refuse settings no drive may have (the admin form checks these too; the CLI and other
    callers come through here alone); the settings with the currency and title normalised."""
    currency = settings.currency.lower()
    if currency not in SUPPORTED:
        raise FundraisingError(
            _("Currency %(currency)s is not supported.", currency=currency.upper())
        )
    if current is not None and currency != current.currency and count_donations(current.id):
        raise FundraisingError(_("The currency cannot change after gifts have been made."))
    if not SLUG_PATTERN.fullmatch(settings.slug):
        raise FundraisingError(
            _("The address may use lower-case letters, digits and - only (at most 80).")
        )
    title = settings.title.strip()
    if not title or len(title) > 160:
        raise FundraisingError(_("The drive needs a title of at most 160 characters."))
    if settings.ends_at <= settings.starts_at:
        raise FundraisingError(_("The drive must end after it starts."))
    if settings.goal_minor <= 0:
        raise FundraisingError(_("The goal must be more than zero."))
    if (current is None or settings.slug != current.slug) and get_drive(settings.slug):
        raise FundraisingError(_("A drive with this address already exists."))
    return replace(settings, currency=currency, title=title)


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
    suggested_minor: Sequence[int] = (),
    closes_at_goal: bool = False,
    is_spending_published: bool = False,
    statement_descriptor_suffix: str | None = None,
    receipt_description: str | None = None,
    actor: User | None = None,
) -> Drive:
    """Create a drive and its totals row (audited)."""
    settings = _check(
        DriveSettings(
            slug=slug,
            title=title,
            goal_minor=goal_minor,
            currency=currency,
            starts_at=starts_at,
            ends_at=ends_at,
            story=story,
            minimum_minor=minimum_minor,
            suggested_minor=tuple(suggested_minor),
            closes_at_goal=closes_at_goal,
            is_spending_published=is_spending_published,
            statement_descriptor_suffix=statement_descriptor_suffix,
            receipt_description=receipt_description,
        )
    )
    unit = 10 ** exponent(settings.currency)
    drive = Drive(status=status)
    _apply(
        drive,
        replace(
            settings,
            minimum_minor=settings.minimum_minor or default_minimum(settings.currency),
            suggested_minor=settings.suggested_minor or (25 * unit, 50 * unit, 100 * unit),
        ),
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


def _apply(drive: Drive, settings: DriveSettings) -> None:
    drive.slug = settings.slug
    drive.title = settings.title
    drive.story = settings.story
    drive.goal_minor = settings.goal_minor
    drive.currency = settings.currency
    drive.starts_at = settings.starts_at
    drive.ends_at = settings.ends_at
    drive.closes_at_goal = settings.closes_at_goal
    drive.is_spending_published = settings.is_spending_published
    drive.statement_descriptor_suffix = settings.statement_descriptor_suffix
    drive.receipt_description = settings.receipt_description
    if settings.minimum_minor is not None:
        drive.minimum_minor = settings.minimum_minor
    if settings.suggested_minor:
        drive.suggested_amounts = ",".join(str(amount) for amount in settings.suggested_minor)


def default_minimum(currency: str) -> int:
    """A minimum that stops card testing with tiny charges: 5 major units (500 for JPY-like)."""
    return 500 if exponent(currency) == 0 else 5 * 10 ** exponent(currency)


def maximum_minor(currency: str) -> int:
    """The configured largest single gift, in this currency's minor units."""
    major = int(current_app.config["DONATION_MAX_MAJOR"])
    return major * (100 if exponent(currency) == 0 else 10 ** exponent(currency))


def set_drive_status(drive: Drive, status: DriveStatus, *, actor: User | None) -> None:
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


def update_drive(drive: Drive, settings: DriveSettings, *, actor: User) -> None:
    """Change a drive's settings (audited); its currency is fixed once a gift has been made."""
    _apply(drive, _check(settings, current=drive))
    audit.record(actor, "drive.updated", "drive", drive.id)


def extend_drive(drive: Drive, ends_at: datetime, *, actor: User | None) -> None:
    """Move the end later (and reopen a drive that had closed at its end time)."""
    if ends_at <= max(drive.ends_at, now()):
        raise FundraisingError(_("The new end must be later than the current end and than now."))
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
