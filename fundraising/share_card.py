"""The share card: the image a link preview shows for a drive without a cover.

1200x630 PNG (the size Facebook, X, WhatsApp and Telegram crop least): the organisation, the
drive's title (its translation, where an admin wrote one), raised of goal and a progress bar,
with the words in the reader's language (laid out right to left, the bar filling from the
right, for Arabic). Only those figures go in: no donor's name, message or count of anything
but donors, and Pillow writes no text chunks. Link scrapers can come in a burst when a drive
spreads, so the view keeps each card per worker for SHARE_CARD_SECONDS, keyed by language and
a time bucket of that length: a card is drawn at most once per period per worker and language,
and shows the total as it was at the period's start.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_percent
from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont, features

from fundraising.drive_translations import drive_text
from fundraising.models import Drive, DriveStatus
from fundraising.money import format_money
from fundraising.presentation import bar_width, percent
from security import locales
from security.clock import now

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
TEXT_WIDTH = WIDTH - 2 * MARGIN
# The palette of static/css/app.css.
PAPER, INK, MUTED, ACCENT, WHITE = "#fbfaf7", "#1b1b1f", "#4a4a55", "#5b2a86", "#ffffff"
BAR_TRACK, BAR_EDGE = "#e6e1ea", "#6b6b76"
TITLE_SIZES = (64, 56, 48)
TITLE_LINES = 3
FONT_DIRECTORY = "/usr/share/fonts/truetype/dejavu/"
REGULAR_FONT = FONT_DIRECTORY + "DejaVuSans.ttf"
BOLD_FONT = FONT_DIRECTORY + "DejaVuSans-Bold.ttf"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class CardFigures:
    """Everything a card shows: public figures of the drive, nothing about any donor."""

    organisation: str
    title: str
    raised: str
    goal: str
    percent: int
    bar_width: int
    donors: int
    is_over: bool
    # The words, in the reader's language: what comes before and after the raised figure
    # (one sentence, "%(raised)s raised of %(goal)s", cut around it), and the status line.
    before_raised: str = ""
    after_raised: str = ""
    status_line: str = ""
    is_right_to_left: bool = False


RAISED_MARK = "\x00"  # where the big raised figure goes in the translated sentence


def card_figures(drive: Drive) -> CardFigures:
    """The drive's figures for its card, from the maintained totals, in the reader's language;
    in English where Pillow cannot lay out a right-to-left script (no libraqm)."""
    locale = locales.current()
    if locale in locales.RIGHT_TO_LEFT and not features.check("raqm"):
        locale = locales.DEFAULT
    with force_locale(locale):
        return _card_figures(drive, locale)


def _card_figures(drive: Drive, locale: str) -> CardFigures:
    raised_minor = drive.totals.raised_minor
    goal = format_money(drive.goal_minor, drive.currency, locale)
    is_over = drive.status is DriveStatus.CLOSED or drive.ends_at <= now()
    share = percent(raised_minor, drive.goal_minor)
    sentence = _("%(raised)s raised of %(goal)s", raised=RAISED_MARK, goal=goal)
    before, _mark, after = sentence.partition(RAISED_MARK)
    donors = drive.totals.donors
    counted = ngettext("%(count)s donor", "%(count)s donors", donors, count=donors)
    status = (
        _("Ended")
        if is_over
        else _(
            "%(percent)s of the goal", percent=format_percent(Decimal(share) / 100, locale=locale)
        )
    )
    return CardFigures(
        organisation=str(current_app.config["ORGANISATION_NAME"]),
        title=drive_text(drive, locale).title,  # the card's language: English without raqm
        raised=format_money(raised_minor, drive.currency, locale),
        goal=goal,
        percent=share,
        bar_width=bar_width(raised_minor, drive.goal_minor),
        donors=donors,
        is_over=is_over,
        before_raised=before.strip(),
        after_raised=after.strip(),
        status_line=f"{status} · {counted}",  # two facts side by side, not a sentence
        is_right_to_left=locale in locales.RIGHT_TO_LEFT,
    )


def time_bucket(seconds: float) -> int:
    """Which period of `seconds` the app's clock is in (every worker agrees; tests move it)."""
    return int(now().timestamp() // seconds) if seconds > 0 else 0


@lru_cache(maxsize=32)
def _load_font(configured: str | None, size: int, bold: bool) -> Font:
    for path in (configured, BOLD_FONT if bold else REGULAR_FONT):
        if not path:
            continue
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            if path == configured:
                log.warning("SHARE_CARD_FONT cannot be read; the share card uses another font")
    return ImageFont.load_default(size)


def _font(size: int, *, bold: bool = False) -> Font:
    return _load_font(current_app.config.get("SHARE_CARD_FONT"), size, bold)


def _fit(text: str, font: Font, width: int) -> str:
    """`text` cut (with an ellipsis) to fit in `width` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(text: str, font: Font, width: int) -> tuple[list[str], bool]:
    """Lines of at most `width` pixels; and whether all of `text` fitted in TITLE_LINES."""
    lines: list[str] = []
    for word in text.split():
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(trial) <= width:
            lines[-1] = trial
        else:
            lines.append(word)
    fitted = len(lines) <= TITLE_LINES and all(font.getlength(line) <= width for line in lines)
    if len(lines) > TITLE_LINES:
        lines = [*lines[: TITLE_LINES - 1], " ".join(lines[TITLE_LINES - 1 :])]
    return [_fit(line, font, width) for line in lines], fitted


def _title_lines(title: str) -> tuple[list[str], Font, int]:
    """The title in the largest size that fits in three lines (cut at the smallest)."""
    for size in TITLE_SIZES:
        font = _font(size, bold=True)
        lines, fitted = _wrap(title, font, TEXT_WIDTH)
        if fitted:
            return lines, font, size
    return lines, font, size


def _is_right_to_left(text: str) -> bool:
    """Whether the first letter with a direction is Arabic, Hebrew or another RTL script."""
    for character in text:
        direction = unicodedata.bidirectional(character)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


def _raised_line(draw: ImageDraw.ImageDraw, figures: CardFigures) -> None:
    """The raised figure, large, inside its sentence's words, from the start side."""
    pieces = [
        (figures.before_raised, _font(36), MUTED),
        (figures.raised, _font(72, bold=True), ACCENT),
        (figures.after_raised, _font(36), MUTED),
    ]
    step, x, anchor = (-1, WIDTH - MARGIN, "rs") if figures.is_right_to_left else (1, MARGIN, "ls")
    for text, font, colour in pieces:
        if not text:
            continue
        room = WIDTH - MARGIN - x if step > 0 else x - MARGIN
        if room <= 0:
            break
        shown = _fit(text, font, room)
        draw.text((x, 478), shown, font=font, fill=colour, anchor=anchor)
        x += step * (round(font.getlength(shown)) + 18)


def render_card(figures: CardFigures) -> bytes:
    """The card as PNG bytes (no metadata chunks)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 96), fill=ACCENT)
    start, end = (WIDTH - MARGIN, "r") if figures.is_right_to_left else (MARGIN, "l")
    draw.text(
        (start, 48),
        _fit(figures.organisation, _font(32, bold=True), TEXT_WIDTH),
        font=_font(32, bold=True),
        fill=WHITE,
        anchor=end + "m",
    )
    lines, title_font, size = _title_lines(figures.title)
    x, anchor = (WIDTH - MARGIN, "ra") if _is_right_to_left(figures.title) else (MARGIN, "la")
    for number, line in enumerate(lines):
        top = 140 + number * round(size * 1.2)
        draw.text((x, top), line, font=title_font, fill=INK, anchor=anchor)
    _raised_line(draw, figures)
    bar = (MARGIN, 506, WIDTH - MARGIN, 546)
    draw.rounded_rectangle(bar, radius=20, fill=BAR_TRACK, outline=BAR_EDGE, width=2)
    if figures.bar_width:
        length = max(round((bar[2] - MARGIN) * figures.bar_width / 100), 40)
        fill = (
            (bar[2] - length, bar[1], bar[2], bar[3])  # from the start side: the right
            if figures.is_right_to_left
            else (MARGIN, bar[1], MARGIN + length, bar[3])
        )
        draw.rounded_rectangle(fill, radius=20, fill=ACCENT)
    status = _fit(figures.status_line, _font(30), TEXT_WIDTH)
    draw.text((start, 596), status, font=_font(30), fill=MUTED, anchor=end + "s")
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()
