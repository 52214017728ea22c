"""What the drive pages show: safe story HTML, progress figures, and the public payload."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise
from typing import Any

import nh3
from babel import Locale
from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markdown_it import MarkdownIt
from markupsafe import Markup

from fundraising import drive_translations, drives, payment_methods, services, sharing
from fundraising.models import Drive, DriveUpdate
from fundraising.money import exponent, format_money, to_major_string
from fundraising.updates import updates_for
from security import locales
from security.clock import now
from security.urls import external_url

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


SUMMARY_CHARACTERS = 200
SHARE_CARD_SIZE = (1200, 630)  # fundraising/share_card.py draws it


@lru_cache(maxsize=256)
def story_summary(text: str, limit: int = SUMMARY_CHARACTERS) -> str:
    """The story's first paragraph as plain text (no markup, no link targets), cut at a word
    with an ellipsis past `limit` characters; empty when the story has no paragraph."""
    tokens = _markdown.parse(text or "")
    for opening, inline in pairwise(tokens):
        if opening.type == "paragraph_open" and inline.type == "inline":
            pieces = [
                " " if child.type in ("softbreak", "hardbreak") else child.content
                for child in inline.children or []
                if child.type in ("text", "code_inline", "softbreak", "hardbreak")
            ]
            plain = " ".join("".join(pieces).split())
            if plain:
                return _shorten(plain, limit)
    return ""


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"


def share_meta(drive: Drive, text: drive_translations.DriveText) -> dict[str, Any]:
    """The link preview (Open Graph, Twitter card, meta description) from the drive's `text`
    in the reader's language; every URL absolute."""
    organisation = current_app.config["ORGANISATION_NAME"]
    description = story_summary(text.story) or _(
        "%(title)s: a fundraising drive by %(organisation)s.",
        title=text.title,
        organisation=organisation,
    )
    if drive.cover is not None:
        # The version in the URL: a scraper that kept the old cover fetches the new one.
        image = external_url("fundraising.cover", slug=drive.slug, v=drive.cover.version)
        width, height, image_type = drive.cover.width, drive.cover.height, "image/jpeg"
        alt = drive.cover.alt_text or text.title
    else:
        # The card's words are in the page's language: a scraper that read this page in
        # Spanish gets the Spanish card (English, the default, keeps the plain address).
        locale = locales.current()
        language = {} if locale == locales.DEFAULT else {"lang": locale}
        image = external_url("fundraising.share_card", slug=drive.slug, **language)
        (width, height), image_type = SHARE_CARD_SIZE, "image/png"
        alt = _("%(title)s: how much has been raised of the goal", title=text.title)
    # One address per language, so search engines index each and link readers to their own:
    # the page's canonical address names its language (English, the default, has none).
    plain = sharing.drive_link(drive)
    locale = locales.current()
    alternates = [
        (code, plain if code == locales.DEFAULT else f"{plain}?lang={code}")
        for code in locales.LANGUAGES
    ]
    return {
        "title": text.title,
        "description": description,
        "url": dict(alternates)[locale] if locale in locales.LANGUAGES else plain,
        "alternates": [*alternates, ("x-default", plain)],
        "site_name": organisation,
        "image": image,
        "image_type": image_type,
        "image_width": width,
        "image_height": height,
        "image_alt": alt,
    }


# Stripe's reasons for a decline that donors meet most, in our words (the English is Stripe's).
DECLINED = _l("Your card was declined.")
REFUSED = _l("The payment was refused.")  # Stripe refused the request itself
DECLINE_MESSAGES = {
    "card_declined": DECLINED,
    "generic_decline": DECLINED,
    "insufficient_funds": _l("Your card has insufficient funds."),
    "expired_card": _l("Your card has expired."),
    "incorrect_cvc": _l("Your card's security code is incorrect."),
    "incorrect_number": _l("Your card number is incorrect."),
    "processing_error": _l(
        "An error occurred while processing your card. Try again in a little bit."
    ),
    "payment_intent_authentication_failure": _l(
        "We are unable to authenticate your payment method. Please choose a different "
        "payment method and try again."
    ),
}


def decline_message(code: str | None, stripe_message: str, fallback: object = DECLINED) -> str:
    """Why Stripe declined or refused, in the donor's language: ours for the common reasons;
    else Stripe's own words, which are English, or for a reader of another language our plain
    `fallback` ("Your card was declined.")."""
    known = DECLINE_MESSAGES.get(code or "")
    if known is not None:
        return str(known)
    if locales.current() == locales.DEFAULT:
        return stripe_message
    return str(fallback)


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


@lru_cache(maxsize=16)
def plural_samples(locale: str) -> dict[str, int]:
    """A number in each plural category of the language ("one": 1, "few": 3, "other": 0 ...),
    so the page can hand its script one translated form per category (Intl.PluralRules)."""
    rule = Locale.parse(locale).plural_form
    samples: dict[str, int] = {}
    for number in range(1000):
        samples.setdefault(rule(number), number)
    return samples


def script_messages(drive: Drive) -> dict[str, Any]:
    """What static/js/donate.js may show, translated here: {name} marks where the script puts
    a value (an amount, a count, a time) into the sentence."""
    return {
        "fee": _(
            "Covering the fee adds %(fee)s: you give %(total)s.", fee="{fee}", total="{total}"
        ),
        "total": _("You give %(total)s.", total="{total}"),
        "no_stripe": _(
            "The payment form could not load. Check your connection and reload the page."
        ),
        "closed": _("This drive has now closed."),
        "amount_format": _("Enter the amount as a number, e.g. 25 or 25.50."),
        "amount_minimum": _(
            "The smallest gift is %(minimum)s.",
            minimum=format_money(drive.minimum_minor, drive.currency),
        ),
        "processing": _("Processing…"),
        "give": _("Give now"),
        "check_payment": _("Check your payment details."),
        "failed": _("Something went wrong. You have not been charged."),
        "not_confirmed": _("The payment was not confirmed. You have not been charged."),
        "connection": _("The connection failed. You have not been charged; please try again."),
        "time_left": _("%(time)s left", time="{time}"),
        "ended": _("ended"),
        "donors": {
            category: ngettext("%(count)s donor", "%(count)s donors", sample, count="{count}")
            for category, sample in plural_samples(locales.current()).items()
        },
    }


def _other_language(text_locale: str, page_locale: str) -> str | None:
    return None if text_locale == page_locale else text_locale


def _shown_update(
    item: DriveUpdate, shown: drive_translations.UpdateText, page_locale: str
) -> tuple[DriveUpdate, str, Markup, str | None]:
    return item, shown.title, render_story(shown.body), _other_language(shown.locale, page_locale)


def drive_context(drive: Drive) -> dict[str, Any]:
    """Everything the drive page template needs, in the reader's language: the title, story
    and updates translated where an admin translated them."""
    config = current_app.config
    moment = now()
    locale = locales.current()
    text = drive_translations.drive_text(drive, locale)
    items = updates_for(drive.id)
    translated = drive_translations.update_texts(items, locale)
    fixed = 0 if exponent(drive.currency) == 0 else int(config["STRIPE_FEE_FIXED_MINOR"])
    return {
        "drive": drive,
        "is_open": drives.is_open(drive, moment),
        "has_started": drive.starts_at <= moment,
        "drive_title": text.title,
        # The language of a text shown in another than the page's (the English original of
        # an untranslated drive, say), for a lang attribute; None when it is the page's.
        "title_lang": _other_language(text.locale, locale),
        "story_html": render_story(text.story),
        "story_lang": _other_language(text.story_locale, locale),
        # Newest first, each through the story's own sanitiser: (update, title, HTML, lang).
        "updates": [_shown_update(item, translated[item.id], locale) for item in items],
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
        "payment_method_types": ",".join(payment_methods.offered_for(drive.currency)),
        "extra_sections": [
            section for render in _sections() if (section := render(drive)) is not None
        ],
        "meta": share_meta(drive, text),
        "share": sharing.share_panel(drive, text.title),
        "script_messages": script_messages(drive),
    }
