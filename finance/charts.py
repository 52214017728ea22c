"""Small server-side SVG charts (no JavaScript, no third-party library, CSP-safe)."""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup, escape
from sqlalchemy import select

from extensions import db
from fundraising.models import Donation, DonationStatus, Drive
from fundraising.money import format_money

WIDTH, HEIGHT, PAD = 640, 220, 36


def _frame(title: str, body: str) -> Markup:
    return Markup(  # noqa: S704  (every text below is escaped)
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def gifts_per_hour(drive: Drive, end: datetime, hours: int = 72) -> tuple[Markup, Markup]:
    """Bars of gifts per hour and a line of the cumulative total, over the last hours."""
    start = end - timedelta(hours=hours)
    rows = db.session.execute(
        select(Donation.succeeded_at, Donation.amount_minor).where(
            Donation.drive_id == drive.id,
            Donation.status == DonationStatus.SUCCEEDED,
            Donation.succeeded_at >= start,
            Donation.succeeded_at < end,
        )
    ).all()
    counts = [0] * hours
    sums = [0] * hours
    for moment, amount in rows:
        if moment is None:
            continue
        index = min(int((moment - start).total_seconds() // 3600), hours - 1)
        counts[index] += 1
        sums[index] += amount
    peak = max(counts) or 1
    bar = (WIDTH - 2 * PAD) / hours
    bars = "".join(
        f'<rect x="{PAD + i * bar:.1f}" y="{HEIGHT - PAD - (c / peak) * (HEIGHT - 2 * PAD):.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(c / peak) * (HEIGHT - 2 * PAD):.1f}" '
        f'fill="#5b2a86"><title>{c} gifts</title></rect>'
        for i, c in enumerate(counts)
    )
    axis = (
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="12">{hours} hours ago</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="12" text-anchor="end">now</text>'
        f'<text x="{PAD}" y="20" font-size="12">peak {peak} gifts/hour</text>'
    )
    running, points = 0, []
    total = sum(sums) or 1
    for i, value in enumerate(sums):
        running += value
        x = PAD + (i + 1) * bar
        y = HEIGHT - PAD - (running / total) * (HEIGHT - 2 * PAD)
        points.append(f"{x:.1f},{y:.1f}")
    line = (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="#1d6b3a" stroke-width="3"/>'
        if points
        else ""
    )
    label = (
        f'<text x="{WIDTH - PAD}" y="20" font-size="12" text-anchor="end">'
        f"{escape(format_money(sum(sums), drive.currency))} in {hours} h</text>"
    )
    return (
        _frame(f"Gifts per hour to {drive.title}, last {hours} hours", bars + axis),
        _frame(f"Cumulative total given to {drive.title}, last {hours} hours", line + axis + label),
    )


def by_category(sums: dict[str, int], currency: str, title: str) -> Markup:
    """Horizontal bars of money by category."""
    if not sums:
        return _frame(title, f'<text x="{PAD}" y="40" font-size="14">Nothing paid yet.</text>')
    peak = max(sums.values()) or 1
    row = (HEIGHT - 2 * 12) / max(len(sums), 1)
    parts = []
    for i, (label, amount) in enumerate(sorted(sums.items(), key=lambda item: -item[1])):
        y = 12 + i * row
        width = (amount / peak) * (WIDTH - 220)
        parts.append(
            f'<text x="0" y="{y + row / 2 + 4:.1f}" font-size="13">{escape(label)}</text>'
            f'<rect x="150" y="{y + 4:.1f}" width="{width:.1f}" height="{row - 8:.1f}" '
            f'fill="#5b2a86"/><text x="{156 + width:.1f}" y="{y + row / 2 + 4:.1f}" '
            f'font-size="12">{escape(format_money(amount, currency))}</text>'
        )
    return _frame(title, "".join(parts))
