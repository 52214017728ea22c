"""What the drive pages show: safe story HTML, progress figures, and the public payload."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import nh3
from flask import Flask, current_app
from markdown_it import MarkdownIt
from markupsafe import Markup

from fundraising import drives, services
from fundraising.models import Drive
from fundraising.money import exponent, format_money, to_major_string
from security.clock import now

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})
STORY_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h2",
    "h3",
    "h4",
    "code",
    "pre",
    "hr",
}


@lru_cache(maxsize=256)
def render_story(text: str) -> Markup:
    """Markdown to HTML with raw HTML refused and links marked noopener nofollow."""
    html = _markdown.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=STORY_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener nofollow",
    )
    return Markup(cleaned)  # noqa: S704  (sanitised by nh3 just above)


Section = Callable[[Drive], Markup | None]
SECTIONS_KEY = "drive_page_sections"


def add_drive_page_section(app: Flask, render: Section) -> None:
    """A section another package adds to the public drive page (fundraising imports none of
    them): `render(drive)` returns its HTML, or None to show nothing."""
    sections: list[Section] = app.extensions.setdefault(SECTIONS_KEY, [])
    if render not in sections:
        sections.append(render)


def _sections() -> list[Section]:
    return list(current_app.extensions.get(SECTIONS_KEY, []))


def progress_payload(drive: Drive) -> dict[str, Any]:
    """The JSON for /progress.json (names fixed by DESIGN.md)."""
    return {
        "raised_minor": drive.totals.raised_minor,
        "goal_minor": drive.goal_minor,
        "currency": drive.currency,
        "donors": drive.totals.donors,
        "starts_at": drive.starts_at.isoformat(),
        "ends_at": drive.ends_at.isoformat(),
        "open": drives.is_open(drive),
    }


def percent(raised_minor: int, goal_minor: int) -> int:
    """Whole percent of the goal, capped at 100 for the bar."""
    return min(100, raised_minor * 100 // goal_minor) if goal_minor else 0


def bar_width(raised_minor: int, goal_minor: int) -> int:
    """The progress bar's width in whole percent: at least 1 once anything is raised, so the
    first gifts to a large goal show (static/js/donate.js draws the same rule)."""
    return max(1, percent(raised_minor, goal_minor)) if raised_minor > 0 else 0


def drive_context(drive: Drive) -> dict[str, Any]:
    """Everything the drive page template needs."""
    config = current_app.config
    moment = now()
    fixed = 0 if exponent(drive.currency) == 0 else int(config["STRIPE_FEE_FIXED_MINOR"])
    return {
        "drive": drive,
        "is_open": drives.is_open(drive, moment),
        "has_started": drive.starts_at <= moment,
        "story_html": render_story(drive.story),
        "recent": services.recent_gifts(drive),
        "suggested": [
            (to_major_string(amount, drive.currency), format_money(amount, drive.currency))
            for amount in drive.suggested_minor
        ],
        "minimum": format_money(drive.minimum_minor, drive.currency),
        "minimum_major": to_major_string(drive.minimum_minor, drive.currency),
        "step": "1" if exponent(drive.currency) == 0 else f"{10 ** -exponent(drive.currency)}",
        "fee": {
            "basis_points": int(config["STRIPE_FEE_BASIS_POINTS"]),
            "fixed_minor": fixed,
            "exponent": exponent(drive.currency),
        },
        "stripe_key": config.get("STRIPE_PUBLISHABLE_KEY") or "",
        "stripe_js_url": config["STRIPE_JS_URL"],
        "extra_sections": [
            section for render in _sections() if (section := render(drive)) is not None
        ],
    }
