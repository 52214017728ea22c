"""Translations of a drive's title and story, and of its updates, written by admins (audited,
with the language only: never the text). A reader whose language has a translation reads it;
everyone else reads the original, which is English (drives have no language of their own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from babel import Locale
from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

import audit
from accounts.models import User
from extensions import db
from fundraising import updates
from fundraising.drives import FundraisingError
from fundraising.models import Drive, DriveTranslation, DriveUpdate, UpdateTranslation
from security import locales
from security.clock import now

ORIGINAL = locales.DEFAULT  # the language drives and updates are written in
TRANSLATABLE = tuple(code for code in locales.LANGUAGES if code != ORIGINAL)
MAX_TITLE = 160  # as a drive's own title (fundraising/drives.py, DriveForm)
MAX_STORY = 20000  # as a drive's own story (DriveForm)
T = TypeVar("T")


class TranslationError(FundraisingError):
    """A translation that cannot be saved; the message says why, `field` names the field."""

    def __init__(self, message: str, field: str = "title") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DriveText:
    """A drive's title and Markdown story, and the language each is written in."""

    title: str
    story: str
    locale: str = ORIGINAL
    story_locale: str = ORIGINAL


@dataclass(frozen=True)
class UpdateText:
    """An update's title and Markdown text as a reader gets them, and their language."""

    title: str
    body: str
    locale: str = ORIGINAL


def language_name(code: str) -> str:
    """A language's name in the language of the request ("Spanish" for an English reader)."""
    return str(Locale.parse(code).get_display_name(get_locale() or ORIGINAL) or code)


def check_language(locale: str) -> str:
    """The language code if a translation may be written in it; else TranslationError."""
    if locale not in TRANSLATABLE:
        raise TranslationError(
            _(
                "Translations can be written in %(languages)s only; the drive itself is "
                "written in English.",
                languages=format_list(
                    [language_name(code) for code in TRANSLATABLE],
                    style="or",
                    locale=str(get_locale() or ORIGINAL),
                ),
            ),
            field="locale",
        )
    return locale


def _checked(text: DriveText) -> DriveText:
    title = text.title.strip()
    if not title:
        raise TranslationError(_("Write the title in this language: a translation needs one."))
    if len(title) > MAX_TITLE:
        raise TranslationError(_("Keep the title under %(count)d characters.", count=MAX_TITLE))
    if len(text.story) > MAX_STORY:
        raise TranslationError(
            _("Keep the story under %(count)d characters.", count=MAX_STORY), field="story"
        )
    return DriveText(title, text.story if text.story.strip() else "", text.locale)


# --- Writing them ---------------------------------------------------------------------------


def by_language(translations: Mapping[str, T]) -> list[tuple[str, str, T | None]]:
    """(code, name, its translation or None) for each language a translation may be in."""
    return [(code, language_name(code), translations.get(code)) for code in TRANSLATABLE]


def translations_of(drive_id: int) -> dict[str, DriveTranslation]:
    """A drive's translations by language."""
    rows = db.session.scalars(select(DriveTranslation).where(DriveTranslation.drive_id == drive_id))
    return {row.locale: row for row in rows}


def get_translation(drive: Drive, locale: str) -> DriveTranslation | None:
    return db.session.get(DriveTranslation, (drive.id, locale))


def save_translation(drive: Drive, locale: str, text: DriveText, *, actor: User) -> None:
    """Add or change the drive's title and story in `locale` (audited)."""
    check_language(locale)
    checked = _checked(text)
    translation = get_translation(drive, locale)
    action = "drive.translation_changed"
    if translation is None:
        translation = DriveTranslation(drive_id=drive.id, locale=locale)
        db.session.add(translation)
        action = "drive.translation_added"
    translation.title, translation.story = checked.title, checked.story
    translation.updated_at = now()
    db.session.flush()
    audit.record(actor, action, "drive", drive.id, locale=locale)


def delete_translation(drive: Drive, locale: str, *, actor: User) -> bool:
    """Remove the drive's translation into `locale` (audited); False when there was none."""
    check_language(locale)
    translation = get_translation(drive, locale)
    if translation is None:
        return False
    db.session.delete(translation)
    audit.record(actor, "drive.translation_deleted", "drive", drive.id, locale=locale)
    return True


def update_translations_of(update_id: int) -> dict[str, UpdateTranslation]:
    """An update's translations by language."""
    rows = db.session.scalars(
        select(UpdateTranslation).where(UpdateTranslation.update_id == update_id)
    )
    return {row.locale: row for row in rows}


def get_update_translation(update: DriveUpdate, locale: str) -> UpdateTranslation | None:
    return db.session.get(UpdateTranslation, (update.id, locale))


def save_update_translation(
    update: DriveUpdate, locale: str, text: updates.UpdateText, *, actor: User
) -> None:
    """Add or change an update's title and text in `locale`, by the update's own rules
    (audited; nothing is emailed)."""
    check_language(locale)
    checked = updates.check_text(text)
    translation = get_update_translation(update, locale)
    action = "drive_update.translation_changed"
    if translation is None:
        translation = UpdateTranslation(update_id=update.id, locale=locale)
        db.session.add(translation)
        action = "drive_update.translation_added"
    translation.title, translation.body = checked.title, checked.body
    translation.updated_at = now()
    db.session.flush()
    audit.record(actor, action, "drive_update", update.id, drive=update.drive_id, locale=locale)


def delete_update_translation(update: DriveUpdate, locale: str, *, actor: User) -> bool:
    """Remove an update's translation into `locale` (audited); False when there was none."""
    check_language(locale)
    translation = get_update_translation(update, locale)
    if translation is None:
        return False
    db.session.delete(translation)
    audit.record(
        actor,
        "drive_update.translation_deleted",
        "drive_update",
        update.id,
        drive=update.drive_id,
        locale=locale,
    )
    return True


# --- Reading them ---------------------------------------------------------------------------


def drive_text(drive: Drive, locale: str) -> DriveText:
    """The drive's title and story for a reader of `locale`: the translation where there is
    one (its story, or the original's when it left the story empty), else the original."""
    translation = None if locale == ORIGINAL else get_translation(drive, locale)
    if translation is None:
        return DriveText(drive.title, drive.story)
    if not translation.story:
        return DriveText(translation.title, drive.story, locale, ORIGINAL)
    return DriveText(translation.title, translation.story, locale, locale)


def drive_titles(drives: Sequence[Drive], locale: str) -> dict[int, str]:
    """Each drive's title for a reader of `locale` (one query for the whole list)."""
    titles = {drive.id: drive.title for drive in drives}
    if locale != ORIGINAL and titles:
        rows = db.session.execute(
            select(DriveTranslation.drive_id, DriveTranslation.title).where(
                DriveTranslation.drive_id.in_(titles), DriveTranslation.locale == locale
            )
        )
        titles.update({drive_id: title for drive_id, title in rows})
    return titles


def update_texts(items: Sequence[DriveUpdate], locale: str) -> dict[int, UpdateText]:
    """Each update's title and text for a reader of `locale` (one query for all of them)."""
    texts = {item.id: UpdateText(item.title, item.body) for item in items}
    if locale != ORIGINAL and texts:
        rows = db.session.scalars(
            select(UpdateTranslation).where(
                UpdateTranslation.update_id.in_(texts), UpdateTranslation.locale == locale
            )
        )
        texts.update({row.update_id: UpdateText(row.title, row.body, locale) for row in rows})
    return texts
