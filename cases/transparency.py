"""The public "where the money went" section of a drive page: aggregated, coarse, and silent
about any figure fewer than MINIMUM_CASES cases contribute to, so no one can be singled out."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from markupsafe import Markup
from sqlalchemy import func, select

from cases.models import Case, Stage
from extensions import db
from finance.models import Category, Disbursement, DisbursementStatus
from fundraising.models import Drive
from security.clock import now

MINIMUM_CASES = 3
RELOCATED = (Stage.ARRIVED, Stage.CLOSED)


@dataclass(frozen=True)
class SpendingLine:
    category: Category
    amount_minor: int


@dataclass(frozen=True)
class SpendingSummary:
    lines: list[SpendingLine]
    hidden_categories: int
    people_relocated: int | None
    as_of: str


def spending_summary(drive: Drive) -> SpendingSummary | None:
    """Totals by category (each shown only when >= 3 cases share it) and people relocated."""
    if not drive.is_spending_published:
        return None
    rows = db.session.execute(
        select(
            Disbursement.category,
            func.sum(Disbursement.amount_minor),
            func.count(func.distinct(Disbursement.case_id)),
        )
        .where(Disbursement.drive_id == drive.id, Disbursement.status == DisbursementStatus.PAID)
        .group_by(Disbursement.category)
    ).all()
    lines = [
        SpendingLine(category, int(total))
        for category, total, cases in rows
        if cases >= MINIMUM_CASES
    ]
    funded_cases = select(Disbursement.case_id).where(
        Disbursement.drive_id == drive.id, Disbursement.status == DisbursementStatus.PAID
    )
    relocated = db.session.execute(
        select(func.count(Case.id), func.coalesce(func.sum(Case.household_size), 0)).where(
            Case.id.in_(funded_cases), Case.stage.in_(RELOCATED)
        )
    ).one()
    people = int(relocated[1]) if relocated[0] >= MINIMUM_CASES else None
    return SpendingSummary(
        lines=sorted(lines, key=lambda line: -line.amount_minor),
        hidden_categories=len(rows) - len(lines),
        people_relocated=people,
        as_of=now().strftime("%B %Y"),
    )


def render_spending(drive: Drive) -> Markup | None:
    """The section's HTML for the drive page, or nothing when unpublished."""
    summary = spending_summary(drive)
    if summary is None:
        return None
    html = render_template("cases/public_spending.html", summary=summary, drive=drive)
    return Markup(html)  # noqa: S704  (a Jinja template, autoescaped)
