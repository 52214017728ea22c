"""Small server-side SVG charts (no JavaScript, no third-party library, CSP-safe).

The plot itself is not mirrored in a right-to-left language (time runs left to right, as on
the axis of any chart the reader meets); its text is, so a label set at the left or the right
edge stays inside the chart whichever way it is written."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup, escape
from sqlalchemy import select

from extensions import db
from fundraising.models import Donation, DonationStatus, Drive
from fundraising.money import format_money
from security import locales
from security.clock import now

WIDTH, HEIGHT, PAD = 640, 220, 36
CATEGORY_ROW = 34  # one bar of the category chart, however few categories there are
COLOURS = {"bar": "#5b2a86", "line": "#1d6b3a"}


def _is_right_to_left() -> bool:
    return locales.current() in locales.RIGHT_TO_LEFT


def _frame(title: str, body: str, height: int = HEIGHT) -> Markup:
    direction = "rtl" if _is_right_to_left() else "ltr"
    return Markup(  # noqa: S704  (every text below is escaped)
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" direction="{direction}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )


def _text(x: float, y: float, text: str, size: int = 12, edge: str = "left") -> str:
    """A label whose left (or right) edge is at x, in either direction of writing: in
    right-to-left text, "start" is the right end."""
    at_start = (edge == "left") != _is_right_to_left()
    anchor = "start" if at_start else "end"
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
    )


def _time_axis(hours: int, ended: bool) -> str:
    if ended:
        first = ngettext("%(num)d hour before", "%(num)d hours before", hours)
        last = _("the end")
    else:
        first = ngettext("%(num)d hour ago", "%(num)d hours ago", hours)
        last = _("now")
    return _text(PAD, HEIGHT - 8, first) + _text(WIDTH - PAD, HEIGHT - 8, last, edge="right")


def gifts_per_hour(drive: Drive, gross_minor: int, hours: int = 72) -> tuple[Markup, Markup]:
    """Bars of gifts per hour over the drive's last hours (up to now, or to its end), and its
    cumulative total over them, rising to its gross: what it had before plus each hour's gifts."""
    moment = now()
    ended = moment >= drive.ends_at
    end = drive.ends_at if ended else moment
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
    for succeeded_at, amount in rows:
        if succeeded_at is None:
            continue
        index = min(int((succeeded_at - start).total_seconds() // 3600), hours - 1)
        counts[index] += 1
        sums[index] += amount
    peak = max(counts) or 1
    bar = (WIDTH - 2 * PAD) / hours
    plot = HEIGHT - 2 * PAD
    bars = "".join(
        f'<rect x="{PAD + i * bar:.1f}" y="{HEIGHT - PAD - (c / peak) * plot:.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(c / peak) * plot:.1f}" '
        f'fill="{COLOURS["bar"]}"><title>{escape(_gifts(c))}</title></rect>'
        for i, c in enumerate(counts)
    )
    peak_label = ngettext("peak %(num)d gifts/hour", "peak %(num)d gifts/hour", peak)
    per_hour = bars + _time_axis(hours, ended) + _text(PAD, 20, peak_label)

    window = sum(sums)
    total = max(gross_minor, window)
    before = total - window
    scale = total or 1
    running = before
    points = [f"{PAD:.1f},{HEIGHT - PAD - (running / scale) * plot:.1f}"]
    for i, value in enumerate(sums):
        running += value
        points.append(f"{PAD + (i + 1) * bar:.1f},{HEIGHT - PAD - (running / scale) * plot:.1f}")
    cumulative = (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLOURS["line"]}" '
        f'stroke-width="3"/>'
        + _time_axis(hours, ended)
        + _text(PAD, 20, _("%(amount)s in all", amount=format_money(total, drive.currency)))
        + _text(
            WIDTH - PAD,
            20,
            _(
                "%(amount)s in the last %(hours)d h",
                amount=format_money(window, drive.currency),
                hours=hours,
            ),
            edge="right",
        )
    )
    per_hour_title = ngettext(
        "Gifts per hour to %(title)s, last %(num)d hour",
        "Gifts per hour to %(title)s, last %(num)d hours",
        hours,
        title=drive.title,
    )
    cumulative_title = ngettext(
        "Cumulative total given to %(title)s, last %(num)d hour",
        "Cumulative total given to %(title)s, last %(num)d hours",
        hours,
        title=drive.title,
    )
    return _frame(per_hour_title, per_hour), _frame(cumulative_title, cumulative)


def _gifts(count: int) -> str:
    return str(ngettext("%(num)d gift", "%(num)d gifts", count))


def by_category(sums: dict[str, int], currency: str, title: str) -> Markup:
    """Horizontal bars of money by category, one row each."""
    if not sums:
        return _frame(title, _text(PAD, 40, _("Nothing paid yet."), size=14), height=60)
    peak = max(sums.values()) or 1
    parts = []
    for i, (label, amount) in enumerate(sorted(sums.items(), key=lambda item: -item[1])):
        y = 8 + i * CATEGORY_ROW
        middle = y + CATEGORY_ROW / 2 + 4
        width = (amount / peak) * (WIDTH - 240)
        parts.append(
            _text(0, middle, label, size=13) + f'<rect x="150" y="{y + 4:.1f}" width="{width:.1f}" '
            f'height="{CATEGORY_ROW - 8}" fill="{COLOURS["bar"]}"/>'
            + _text(156 + width, middle, format_money(amount, currency))
        )
    return _frame(title, "".join(parts), height=16 + len(sums) * CATEGORY_ROW)
