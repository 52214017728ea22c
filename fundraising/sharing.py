"""Sharing a drive: channel codes (?via=), the share links, and what each channel raised.

A drive link may carry `?via=CODE`; the page keeps the code through the donation form and the
donation stores it, so admins see which channel raised what. A code names a channel
(`whatsapp`, `newsletter`, `partner-radio`), never a person: the share links the app builds
carry the code of their own channel, and nothing else (no `utm_*`, no id of the sharer or of
the page's visitor), so a shared link says only "this came through WhatsApp".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask_babel import gettext as _
from sqlalchemy import func, select

from extensions import db
from fundraising.models import Donation, DonationStatus, Drive
from security.urls import external_url

VIA_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
# The codes the app's own share controls add: the copy-link box and the Web Share sheet.
COPIED_LINK = "link"
SHARE_SHEET = "share"


def clean_via(value: object) -> str | None:
    """The channel code if it is 1-32 of a-z, 0-9 and -; None otherwise (ignored, silently:
    a mangled link must never cost a gift or show the donor an error)."""
    if isinstance(value, str) and VIA_PATTERN.fullmatch(value):
        return value
    return None


def drive_link(drive: Drive, via: str | None = None) -> str:
    """The drive page's absolute URL (on PUBLIC_URL), with a channel code when given."""
    if via is None:
        return external_url("fundraising.drive_page", slug=drive.slug)
    return external_url("fundraising.drive_page", slug=drive.slug, via=via)


@dataclass(frozen=True)
class ShareLink:
    """A plain link that hands the drive's URL to one service; no script of theirs runs here."""

    channel: str
    label: str
    href: str
    opens_new_tab: bool = True


@dataclass(frozen=True)
class SharePanel:
    """What the share control shows: the links, the link to copy, the Web Share sheet's data."""

    title: str
    links: tuple[ShareLink, ...]
    copy_url: str
    sheet_url: str


def _query(**values: str) -> str:
    return urlencode(values, quote_via=quote)


def share_links(drive: Drive, title: str | None = None) -> tuple[ShareLink, ...]:
    """One link per service, each carrying its own channel code and nothing else (the
    services keep their own names; only "Email" is translated). `title`: the drive's title
    in the reader's language (its own by default)."""
    title = drive.title if title is None else title

    def url(channel: str) -> str:
        return drive_link(drive, channel)

    return (
        ShareLink(
            "whatsapp", "WhatsApp", "https://wa.me/?" + _query(text=f"{title} {url('whatsapp')}")
        ),
        ShareLink(
            "telegram",
            "Telegram",
            "https://t.me/share/url?" + _query(url=url("telegram"), text=title),
        ),
        ShareLink("x", "X", "https://x.com/intent/tweet?" + _query(text=title, url=url("x"))),
        ShareLink(
            "facebook",
            "Facebook",
            "https://www.facebook.com/sharer/sharer.php?" + _query(u=url("facebook")),
        ),
        ShareLink(
            "email",
            _("Email"),
            "mailto:?" + _query(subject=title, body=f"{title}\n\n{url('email')}"),
            opens_new_tab=False,
        ),
    )


def share_panel(drive: Drive, title: str | None = None) -> SharePanel:
    """Everything the share control on the drive and thank-you pages needs, with the drive's
    `title` in the reader's language (its own by default)."""
    title = drive.title if title is None else title
    return SharePanel(
        title=title,
        links=share_links(drive, title),
        copy_url=drive_link(drive, COPIED_LINK),
        sheet_url=drive_link(drive, SHARE_SHEET),
    )


@dataclass(frozen=True)
class ChannelTotal:
    """Succeeded gifts that came through one channel (None: no code, a direct visit)."""

    via_code: str | None
    gifts: int
    amount_minor: int


def raised_by_channel(drive_id: int) -> list[ChannelTotal]:
    """Succeeded gifts and their amount (before refunds and disputes) per channel code,
    largest first; for the admin's drive page, so a scan of one drive's gifts is fine."""
    amount = func.coalesce(func.sum(Donation.amount_minor), 0)
    rows = db.session.execute(
        select(Donation.via_code, func.count(Donation.id), amount)
        .where(Donation.drive_id == drive_id, Donation.status == DonationStatus.SUCCEEDED)
        .group_by(Donation.via_code)
        .order_by(amount.desc(), Donation.via_code.is_(None), Donation.via_code)
    )
    return [ChannelTotal(code, int(gifts), int(total)) for code, gifts, total in rows]
