"""The public "where the money went" section of a drive page: monthly, coarse, and silent about
any change fewer than MINIMUM_CASES cases make, so no one can be singled out.

Live figures let two visits a day apart give away one household's size and the cost of its
flight. So the page shows snapshots frozen at each month's end (UTC) and never rewritten:

- each figure (a category's paid total, people relocated) moves to its month-end value only
  when at least three cases changed it since the value shown; otherwise the value shown before
  stays, and its change waits to be joined by others (a figure first appears the same way);
- amounts are rounded to the nearest ROUNDING_MAJOR units of the drive's currency;
- a month is frozen from data timestamped before its end: disbursements by `paid_at`, and
  relocation by the case's stage history (the first change to arrived or closed), so a snapshot
  written late shows the month-end state. Household size is current state: a figure uses the
  sizes known when it is frozen, and only moves with three newly relocated households;
- `flask --app app cases snapshot-spending` freezes the months due (a timer runs it); the first
  drive-page view after a month's end does it when the timer has not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from babel.dates import format_date
from flask import render_template
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cases.models import Case, SpendingSnapshot, SpendingSnapshotLine, Stage, StageChange
from extensions import db
from finance.models import Category, Disbursement, DisbursementStatus
from fundraising.models import Drive
from fundraising.money import exponent
from security import locales
from security.clock import now

MINIMUM_CASES = 3
# Every relocated case passed through ARRIVED (closing as relocated needs it), so its first
# arrival is when it counts; cases closed for other outcomes never arrived.
RELOCATED = (Stage.ARRIVED,)
ROUNDING_MAJOR = 100


@dataclass(frozen=True)
class SpendingLine:
    category: Category
    amount_minor: int


@dataclass(frozen=True)
class SpendingSummary:
    lines: list[SpendingLine]
    people_relocated: int | None
    as_of: str | None
    rounding_minor: int


@dataclass(frozen=True)
class Contribution:
    """What one case adds to a figure by a month's end, and when it last changed it."""

    amount: int
    changed_at: datetime


# --- Months (UTC) -----------------------------------------------------------------------------


def month_of(moment: date) -> date:
    """The first day of the month holding `moment`."""
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_end(month: date) -> datetime:
    """The instant the month ends (the next one's first instant): data before it counts."""
    following = next_month(month)
    return datetime(following.year, following.month, 1, tzinfo=UTC)


def last_complete_month(moment: datetime) -> date:
    """The latest month that has ended by `moment`."""
    return month_of(month_of(moment) - timedelta(days=1))


def as_of_label(month: date) -> str:
    """The month's last day as the page says it, in the reader's language ("30 November 2026")."""
    last_day = next_month(month) - timedelta(days=1)
    return format_date(last_day, "d MMMM y", locale=locales.current())


# --- Freezing ---------------------------------------------------------------------------------


def rounding_step(currency: str) -> int:
    """ROUNDING_MAJOR major units of the currency, in its minor units (JPY has none)."""
    return ROUNDING_MAJOR * int(10 ** exponent(currency))


def round_amount(amount_minor: int, currency: str) -> int:
    """The amount to the nearest rounding step, halves up."""
    step = rounding_step(currency)
    return (amount_minor + step // 2) // step * step


def has_moved(contributions: Iterable[Contribution], since: date | None) -> bool:
    """At least MINIMUM_CASES cases changed the figure after the end of `since` (ever, when
    the figure was never shown)."""
    start = month_end(since) if since is not None else None
    changed = [item for item in contributions if start is None or item.changed_at >= start]
    return len(changed) >= MINIMUM_CASES


def spending_contributions(drive_id: int, until: datetime) -> dict[Category, list[Contribution]]:
    """Per category, each case's paid total before `until` and its latest payment."""
    rows = db.session.execute(
        select(
            Disbursement.category,
            func.sum(Disbursement.amount_minor),
            func.max(Disbursement.paid_at),
        )
        .where(
            Disbursement.drive_id == drive_id,
            Disbursement.status == DisbursementStatus.PAID,
            Disbursement.paid_at < until,
        )
        .group_by(Disbursement.category, Disbursement.case_id)
    ).all()
    by_category: dict[Category, list[Contribution]] = {}
    for category, total, paid_at in rows:
        if paid_at is not None:  # always, as paid_at < until: for the type checker
            by_category.setdefault(category, []).append(Contribution(int(total), paid_at))
    return by_category


def relocation_contributions(drive_id: int, until: datetime) -> list[Contribution]:
    """Each case the drive paid for that reached safety before `until`: its household, and
    when it began to count (the later of its first payment and its arrival)."""
    first_paid = (
        select(Disbursement.case_id, func.min(Disbursement.paid_at).label("moment"))
        .where(
            Disbursement.drive_id == drive_id,
            Disbursement.status == DisbursementStatus.PAID,
            Disbursement.paid_at < until,
        )
        .group_by(Disbursement.case_id)
        .subquery()
    )
    first_arrival = (
        select(StageChange.case_id, func.min(StageChange.created_at).label("moment"))
        .where(StageChange.to_stage.in_(RELOCATED), StageChange.created_at < until)
        .group_by(StageChange.case_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Case.household_size, first_paid.c.moment, first_arrival.c.moment)
        .join(first_paid, first_paid.c.case_id == Case.id)
        .join(first_arrival, first_arrival.c.case_id == Case.id)
    ).all()
    return [Contribution(size, max(paid_at, arrived_at)) for size, paid_at, arrived_at in rows]


def freeze_lines(
    drive: Drive, month: date, previous: SpendingSnapshot | None
) -> list[SpendingSnapshotLine]:
    """The month's category lines: moved where three cases changed them, else carried over."""
    shown = {line.category: line for line in previous.lines} if previous is not None else {}
    contributions = spending_contributions(drive.id, month_end(month))
    lines = []
    for category in Category:
        line = shown.get(category)
        items = contributions.get(category, [])
        if has_moved(items, line.through if line is not None else None):
            total = sum(item.amount for item in items)
            lines.append(
                SpendingSnapshotLine(
                    category=category,
                    amount_minor=round_amount(total, drive.currency),
                    cases=len(items),
                    through=month,
                )
            )
        elif line is not None:
            lines.append(
                SpendingSnapshotLine(
                    category=category,
                    amount_minor=line.amount_minor,
                    cases=line.cases,
                    through=line.through,
                )
            )
    return lines


def freeze_month(drive: Drive, month: date, previous: SpendingSnapshot | None) -> SpendingSnapshot:
    """The snapshot of `month`'s end, from data timestamped before it (added, not flushed)."""
    snapshot = SpendingSnapshot(
        drive_id=drive.id, month=month, lines=freeze_lines(drive, month, previous), frozen_at=now()
    )
    relocations = relocation_contributions(drive.id, month_end(month))
    since = previous.people_through if previous is not None else None
    if has_moved(relocations, since):
        snapshot.people_relocated = sum(item.amount for item in relocations)
        snapshot.people_cases = len(relocations)
        snapshot.people_through = month
    elif previous is not None:
        snapshot.people_relocated = previous.people_relocated
        snapshot.people_cases = previous.people_cases
        snapshot.people_through = previous.people_through
    else:
        snapshot.people_cases = 0
    db.session.add(snapshot)
    return snapshot


def latest_snapshot(drive_id: int) -> SpendingSnapshot | None:
    """The drive's most recent frozen month, if any."""
    return db.session.scalar(
        select(SpendingSnapshot)
        .where(SpendingSnapshot.drive_id == drive_id)
        .order_by(SpendingSnapshot.month.desc())
        .limit(1)
    )


def months_due(drive: Drive, latest: SpendingSnapshot | None) -> list[date]:
    """Complete months from the drive's start (or after its latest snapshot) not yet frozen."""
    month = next_month(latest.month) if latest is not None else month_of(drive.starts_at)
    last = last_complete_month(now())
    months = []
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def freeze_spending(drive: Drive, latest: SpendingSnapshot | None = None) -> int:
    """Freeze every complete month of the drive not yet frozen, oldest first, after `latest`
    (read when not given); how many.

    Adds and flushes in a savepoint, never commits. A month already frozen is never
    rewritten: when a concurrent writer (another page view, the timer) froze the same months
    first, the unique (drive, month) constraint refuses ours and theirs stand."""
    if latest is None:
        latest = latest_snapshot(drive.id)
    months = months_due(drive, latest)
    if not months:
        return 0
    savepoint = db.session.begin_nested()
    try:
        for month in months:
            latest = freeze_month(drive, month, latest)
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()  # frozen by a concurrent transaction: use theirs
        return 0
    return len(months)


def freeze_all_spending() -> int:
    """Freeze the months due for every drive (the timer's command); how many were written."""
    return sum(freeze_spending(drive) for drive in db.session.scalars(select(Drive)))


# --- The page ---------------------------------------------------------------------------------


def snapshot_for_page(drive: Drive) -> SpendingSnapshot | None:
    """The snapshot the page shows; freezes and commits the months due when the timer has not
    (only then: on other views this is one read). The page is then their only writer, and a
    drive-page GET has nothing else to commit."""
    latest = latest_snapshot(drive.id)
    if not months_due(drive, latest):
        return latest
    if freeze_spending(drive, latest):
        db.session.commit()
    return latest_snapshot(drive.id)


def spending_summary(drive: Drive) -> SpendingSummary | None:
    """The shown month-end figures (rounded) and people relocated, or None when unpublished."""
    if not drive.is_spending_published:
        return None
    snapshot = snapshot_for_page(drive)
    step = rounding_step(drive.currency)
    if snapshot is None:
        return SpendingSummary(lines=[], people_relocated=None, as_of=None, rounding_minor=step)
    lines = [SpendingLine(line.category, line.amount_minor) for line in snapshot.lines]
    return SpendingSummary(
        lines=sorted(lines, key=lambda line: (-line.amount_minor, line.category.value)),
        people_relocated=snapshot.people_relocated,
        as_of=as_of_label(snapshot.month),
        rounding_minor=step,
    )


def render_spending(drive: Drive) -> Markup | None:
    """The section's HTML for the drive page, or nothing when unpublished."""
    summary = spending_summary(drive)
    if summary is None:
        return None
    html = render_template("cases/public_spending.html", summary=summary, drive=drive)
    return Markup(html)  # noqa: S704  (a Jinja template, autoescaped)
