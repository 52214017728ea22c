"""A drive's updates as an Atom 1.0 feed (RFC 4287), every link absolute on PUBLIC_URL."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime

from flask import current_app

from fundraising.models import Drive, DriveUpdate
from fundraising.presentation import render_story
from security.urls import external_url

ATOM = "http://www.w3.org/2005/Atom"
FEED_NAMESPACE = uuid.UUID("5b0e7c52-3f5e-4d41-9c1f-2d6a6f0b7e11")
# Characters XML 1.0 cannot carry at all (a pasted control character would break the feed).
NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return NOT_XML.sub("", value)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = _text(text)
    return element


def update_title(update: DriveUpdate) -> str:
    """The title, or the date for an update posted without one."""
    return update.title or f"Update of {update.posted_at:%d %B %Y}"


def feed_id(drive: Drive) -> str:
    """Permanent whatever the drive's address or the site's host become."""
    name = f"drive:{drive.id}:{drive.created_at.isoformat()}"
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, name)}"


def updates_feed(drive: Drive, items: list[DriveUpdate]) -> bytes:
    """The feed document for these updates (newest first)."""
    page = external_url("fundraising.drive_page", slug=drive.slug)
    feed = ET.Element("feed", {"xmlns": ATOM})
    _add(feed, "id", feed_id(drive))
    _add(feed, "title", f"{drive.title}: updates")
    latest = max((item.updated_at for item in items), default=drive.created_at)
    _add(feed, "updated", _stamp(latest))
    _add(feed, "link", rel="self", type="application/atom+xml", href=_self(drive))
    _add(feed, "link", rel="alternate", type="text/html", href=page)
    author = _add(feed, "author")
    _add(author, "name", current_app.config["ORGANISATION_NAME"])
    for item in items:
        entry = _add(feed, "entry")
        _add(entry, "id", f"urn:uuid:{item.public_id}")
        _add(entry, "title", update_title(item))
        _add(entry, "published", _stamp(item.posted_at))
        _add(entry, "updated", _stamp(item.updated_at))
        _add(entry, "link", rel="alternate", type="text/html", href=f"{page}#update-{item.id}")
        _add(entry, "content", str(render_story(item.body)), type="html")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _self(drive: Drive) -> str:
    return external_url("drive_updates_public.feed", slug=drive.slug)
