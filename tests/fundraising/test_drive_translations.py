"""Admins translate a drive's title and story, and its updates, into the languages readers can
choose; a reader of that language reads the translation (on the drive's page, in its link
preview and share card, in the list of drives, on the thank-you page), everyone else the
English original. Translations are sanitised like the story, checked like the original, and
audited by language only."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Role
from audit.models import AuditRecord
from extensions import db
from fundraising import share_card, update_mail
from fundraising.models import DriveTranslation, DriveUpdate, UpdateTranslation
from fundraising.public_cache import PublicCache
from tests.factories import StaffMember, audit_actions, count_rows, make_drive

PAGE = "/drives/relocation"
ORIGINAL_TITLE = "Relocate five people"
SPANISH = {"title": "Reubicar a cinco personas", "story": "Las persiguen por **quiénes son**."}
NAMES = "Spanish, French, Portuguese, Russian, or Arabic"  # in the admin's language
UNKNOWN_LANGUAGE = (
    f"Translations can be written in {NAMES} only; the drive itself is written in English."
)


@pytest.fixture
def admin(app, clock):
    return StaffMember(app, clock, Role.ADMIN)


def translate(admin: StaffMember, drive_id: int, locale: str = "es", **fields: str) -> Any:
    return admin.client.post(
        f"/admin/drives/{drive_id}/translations/{locale}", data=fields or SPANISH
    )


def translate_update(
    admin: StaffMember, drive_id: int, update_id: int, locale: str = "es", **fields: str
) -> Any:
    return admin.client.post(
        f"/admin/drives/{drive_id}/updates/{update_id}/translations/{locale}", data=fields
    )


def post_update(admin: StaffMember, drive_id: int, body: str, title: str = "") -> int:
    response = admin.client.post(
        f"/admin/drives/{drive_id}/updates/", data={"title": title, "body": body}
    )
    assert response.status_code == 302
    with admin.app.app_context():
        return int(db.session.scalar(select(DriveUpdate.id).order_by(DriveUpdate.id.desc())))


def read(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, flags=re.S)
    assert found is not None
    return found.group(0)


def meta(html: str, name: str) -> str:
    found = re.search(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', html)
    assert found is not None, name
    return unescape(found.group(1))


def page_title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, flags=re.S)
    assert found is not None
    return unescape(found.group(1)).strip()


class CardTitles:
    """Wraps share_card.render_card, keeping the title each card was drawn with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.titles: list[str] = []
        self._render = share_card.render_card
        monkeypatch.setattr(share_card, "render_card", self)

    def __call__(self, figures: share_card.CardFigures) -> bytes:
        self.titles.append(figures.title)
        return self._render(figures)


# --- What readers see -----------------------------------------------------------------------


def test_a_spanish_reader_reads_the_spanish_title_and_story_everywhere(app, admin, monkeypatch):
    drive_id = make_drive(app)
    assert translate(admin, drive_id).status_code == 302
    reader = app.test_client()

    page = read(reader, PAGE + "?lang=es")
    assert heading(page) == "<h1>Reubicar a cinco personas</h1>"  # the page's own language
    assert page_title(page).startswith("Reubicar a cinco personas · ")
    assert "Las persiguen por <strong>quiénes son</strong>." in page
    assert meta(page, "og:title") == "Reubicar a cinco personas"
    assert meta(page, "og:description") == "Las persiguen por quiénes son."
    assert meta(page, "description") == "Las persiguen por quiénes son."
    assert "who they are" not in page
    assert ORIGINAL_TITLE not in page.split("</head>", 1)[1]

    assert "Reubicar a cinco personas" in read(reader, "/?lang=es")
    assert "Reubicar a cinco personas" in read(reader, PAGE + "/thanks?lang=es")
    cards = CardTitles(monkeypatch)
    assert reader.get(PAGE + "/share.png?lang=es").status_code == 200
    assert cards.titles == ["Reubicar a cinco personas"]


def test_an_english_reader_reads_the_original(app, admin, monkeypatch):
    drive_id = make_drive(app)
    translate(admin, drive_id)
    for path in (PAGE, PAGE + "?lang=en"):
        page = read(app.test_client(), path)
        assert heading(page) == f"<h1>{ORIGINAL_TITLE}</h1>"
        assert "People are hunted for <strong>who they are</strong>." in page
        assert meta(page, "og:title") == ORIGINAL_TITLE
        assert "Reubicar" not in page
        assert "persiguen" not in page
    assert "Reubicar" not in read(app.test_client(), "/")
    assert ORIGINAL_TITLE in read(app.test_client(), "/")
    cards = CardTitles(monkeypatch)
    app.test_client().get(PAGE + "/share.png")
    assert cards.titles == [ORIGINAL_TITLE]


def test_a_reader_of_a_language_without_a_translation_reads_the_original_marked_english(app, admin):
    drive_id = make_drive(app)
    translate(admin, drive_id)  # Spanish only: Arabic readers get the English
    page = read(app.test_client(), PAGE + "?lang=ar")
    assert '<html lang="ar" dir="rtl">' in page
    assert heading(page) == f'<h1 lang="en" dir="auto">{ORIGINAL_TITLE}</h1>'
    assert (
        '<div lang="en" dir="auto"><p>People are hunted for <strong>who they are</strong>.' in page
    )
    assert meta(page, "og:title") == ORIGINAL_TITLE
    assert "Reubicar" not in page
    assert ORIGINAL_TITLE in read(app.test_client(), "/?lang=ar")


def test_a_translation_without_a_story_shows_the_english_story_under_its_title(app, admin):
    drive_id = make_drive(app)
    assert (
        translate(admin, drive_id, title="Reubicar a cinco personas", story="").status_code == 302
    )
    page = read(app.test_client(), PAGE + "?lang=es")
    assert heading(page) == "<h1>Reubicar a cinco personas</h1>"
    assert (
        '<div lang="en" dir="auto"><p>People are hunted for <strong>who they are</strong>.' in page
    )
    assert meta(page, "og:description") == "People are hunted for who they are."


def test_updates_are_read_in_their_translation_where_there_is_one(app, admin):
    drive_id = make_drive(app)
    first = post_update(admin, drive_id, "Flights are **booked**.", "Flights")
    post_update(admin, drive_id, "Visas granted.", "Visas")
    response = translate_update(
        admin, drive_id, first, title="Vuelos", body="Los vuelos están **reservados**."
    )
    assert response.status_code == 302

    spanish = read(app.test_client(), PAGE + "?lang=es")
    updates = spanish[spanish.index('id="updates-heading"') :]
    assert f'<h3 id="update-{first}-heading">Vuelos</h3>' in updates
    assert "Los vuelos están <strong>reservados</strong>." in updates
    assert "Flights are" not in updates
    assert 'lang="en" dir="auto">Visas</h3>' in updates  # not translated: marked English
    assert '<div lang="en" dir="auto"><p>Visas granted.</p>' in updates

    for path in (PAGE, PAGE + "?lang=fr"):
        other = read(app.test_client(), path)
        assert "Flights are <strong>booked</strong>." in other
        assert "Vuelos" not in other
        assert "reservados" not in other


def test_a_translated_update_is_mailed_in_the_translation_to_a_spanish_donor(app, admin):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.", "Flights")
    translate_update(admin, drive_id, update_id, title="Vuelos", body="Vuelos reservados.")
    translate(admin, drive_id)
    with app.app_context():
        update = db.session.get(DriveUpdate, update_id)
        spanish = update_mail.update_message(update, "donation", "a@example.org", "es")
        english = update_mail.update_message(update, "donation", "a@example.org", "en")
        spanish_text, english_text = spanish.get_content(), english.get_content()
    assert spanish_text.startswith("Vuelos\n")
    assert "Vuelos reservados." in spanish_text
    assert "Reubicar a cinco personas" in spanish_text
    assert "Flights are booked." not in spanish_text
    assert english_text.startswith("Flights\n")
    assert "Vuelos" not in english_text


# --- Sanitising -----------------------------------------------------------------------------

HOSTILE = (
    "We need **flights**.\n\n<script>alert(1)</script>\n\n"
    '<img src=x onerror="alert(2)">\n\n'
    "Read [the report](https://example.org/report) and [this](javascript:alert(3))."
)


def _assert_sanitised(section: str, page: str) -> None:
    assert "<strong>flights</strong>" in section
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "<img" not in section
    assert 'href="https://example.org/report" rel="noopener nofollow"' in section
    assert 'href="javascript:' not in page


def test_a_translated_story_and_update_are_sanitised_like_the_story(app, admin):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.")
    title = "<script>alert(0)</script> Reubicar"
    assert translate(admin, drive_id, title=title, story=HOSTILE).status_code == 302
    assert translate_update(admin, drive_id, update_id, body=HOSTILE).status_code == 302
    page = read(app.test_client(), PAGE + "?lang=es")
    story = page[page.index('id="story-heading"') : page.index('id="updates-heading"')]
    _assert_sanitised(story, page)
    _assert_sanitised(page[page.index('id="updates-heading"') :], page)
    assert "<script>alert(0)</script>" not in page
    assert "&lt;script&gt;alert(0)&lt;/script&gt; Reubicar" in heading(page)


# --- Who may translate ----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FINANCE, Role.CASEWORKER])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/drives/{drive}/translations/es"),
        ("post", "/admin/drives/{drive}/translations/es"),
        ("post", "/admin/drives/{drive}/translations/es/delete"),
        ("get", "/admin/drives/{drive}/updates/{update}/translations/es"),
        ("post", "/admin/drives/{drive}/updates/{update}/translations/es"),
        ("post", "/admin/drives/{drive}/updates/{update}/translations/es/delete"),
    ],
)
def test_finance_and_caseworkers_cannot_translate(app, clock, admin, role, method, path):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.")
    translate(admin, drive_id)
    translate_update(admin, drive_id, update_id, body="Vuelos reservados.")
    staff = StaffMember(app, clock, role)
    url = path.format(drive=drive_id, update=update_id)
    data = {"title": "Hijacked", "story": "Not from an admin.", "body": "Not from an admin."}
    response = getattr(staff.client, method)(url, data=data if method == "post" else None)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(DriveTranslation, (drive_id, "es")).title == SPANISH["title"]
        assert db.session.get(UpdateTranslation, (update_id, "es")).body == "Vuelos reservados."
    assert "access.role_denied" in audit_actions(app)
    assert "Hijacked" not in read(app.test_client(), PAGE + "?lang=es")


def test_someone_signed_out_is_sent_to_sign_in_and_nothing_is_saved(app, client):
    drive_id = make_drive(app)
    response = client.post(f"/admin/drives/{drive_id}/translations/es", data=SPANISH)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert count_rows(app, DriveTranslation) == 0


# --- The admin pages ------------------------------------------------------------------------


def test_the_drive_page_for_admins_lists_every_language_with_its_translation(app, admin):
    drive_id = make_drive(app)
    translate(admin, drive_id)
    page = read(admin.client, f"/admin/drives/{drive_id}")
    panel = page[page.index('id="translations-heading"') :]
    assert '<th scope="row">Spanish</th>' in panel
    assert '<span lang="es" dir="auto">Reubicar a cinco personas</span>' in panel
    assert "Edit the Spanish translation" in panel
    assert "Delete the Spanish translation" in panel
    for name in ("French", "Portuguese", "Russian", "Arabic"):
        assert f"Add a {name} translation" in panel
    assert "English translation" not in panel  # the drive's own language

    form = read(admin.client, f"/admin/drives/{drive_id}/translations/es")
    assert 'value="Reubicar a cinco personas"' in form
    assert 'lang="es"' in form
    assert "People are hunted for <strong>who they are</strong>." in form  # the original
    arabic = read(admin.client, f"/admin/drives/{drive_id}/translations/ar")
    assert re.search(
        r'<input[^>]*dir="rtl"[^>]*id="title"|<input[^>]*id="title"[^>]*dir="rtl"', arabic
    )


def test_changing_and_deleting_a_translation_shows_at_once_and_is_audited(app, admin):
    drive_id = make_drive(app)
    translate(admin, drive_id)
    changed = translate(admin, drive_id, title="Cinco personas a salvo", story="Nueva historia.")
    assert changed.status_code == 302
    assert "Cinco personas a salvo" in read(app.test_client(), PAGE + "?lang=es")
    assert count_rows(app, DriveTranslation) == 1

    deleted = admin.client.post(f"/admin/drives/{drive_id}/translations/es/delete")
    assert deleted.status_code == 302
    assert "Translation deleted (Spanish)" in read(admin.client, deleted.headers["Location"])
    page = read(app.test_client(), PAGE + "?lang=es")
    assert ORIGINAL_TITLE in heading(page)
    assert "Cinco personas" not in page
    assert count_rows(app, DriveTranslation) == 0
    assert audit_actions(app, "drive.translation") == [
        "drive.translation_added",
        "drive.translation_changed",
        "drive.translation_deleted",
    ]

    again = admin.client.post(f"/admin/drives/{drive_id}/translations/es/delete")
    assert "There is no Spanish translation to delete." in read(
        admin.client, again.headers["Location"]
    )
    assert audit_actions(app, "drive.translation")[-1] == "drive.translation_deleted"
    assert len(audit_actions(app, "drive.translation")) == 3


def test_an_update_translation_is_changed_and_deleted_and_goes_with_its_update(app, admin):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.", "Flights")
    translate_update(admin, drive_id, update_id, title="Vuelos", body="Reservados.")
    translate_update(admin, drive_id, update_id, "ru", body="Билеты куплены.")
    page = read(admin.client, f"/admin/drives/{drive_id}/updates/{update_id}")
    panel = page[page.index('id="translations-heading"') :]
    assert '<span lang="es" dir="auto">Vuelos</span>' in panel
    assert '<span lang="ru" dir="auto">Untitled</span>' in panel

    translate_update(admin, drive_id, update_id, title="Vuelos", body="Ya reservados.")
    assert "Ya reservados." in read(app.test_client(), PAGE + "?lang=es")
    url = f"/admin/drives/{drive_id}/updates/{update_id}/translations/es/delete"
    assert admin.client.post(url).status_code == 302
    assert "Flights are booked." in read(app.test_client(), PAGE + "?lang=es")
    assert count_rows(app, UpdateTranslation) == 1
    assert audit_actions(app, "drive_update.translation") == [
        "drive_update.translation_added",
        "drive_update.translation_added",
        "drive_update.translation_changed",
        "drive_update.translation_deleted",
    ]

    admin.client.post(f"/admin/drives/{drive_id}/updates/{update_id}/delete")
    assert count_rows(app, UpdateTranslation) == 0  # the Russian went with the update


def test_a_translation_of_another_drives_update_or_a_missing_drive_is_404(app, admin):
    drive_id = make_drive(app)
    other = make_drive(app, slug="visas")
    update_id = post_update(admin, other, "Visas granted.")
    url = f"/admin/drives/{drive_id}/updates/{update_id}/translations/es"
    assert admin.client.get(url).status_code == 404
    assert admin.client.post(url, data={"body": "Visados."}).status_code == 404
    assert admin.client.post("/admin/drives/999/translations/es", data=SPANISH).status_code == 404
    assert count_rows(app, UpdateTranslation) == 0
    assert count_rows(app, DriveTranslation) == 0


# --- Bad input: refused with a reason, nothing changed ---------------------------------------


@pytest.mark.parametrize(
    ("title", "story", "message"),
    [
        ("", "Historia.", "Write the title in this language: a translation needs one."),
        ("   ", "Historia.", "Write the title in this language: a translation needs one."),
        ("x" * 161, "Historia.", "Keep the title under 160 characters."),
        ("Reubicar", "x" * 20001, "Keep the story under 20000 characters."),
    ],
)
def test_a_bad_drive_translation_is_refused_with_its_reason(app, admin, title, story, message):
    drive_id = make_drive(app)
    translate(admin, drive_id, title="Antes", story="Antes.")
    response = translate(admin, drive_id, title=title, story=story)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        kept = db.session.get(DriveTranslation, (drive_id, "es"))
        assert (kept.title, kept.story) == ("Antes", "Antes.")
    assert audit_actions(app, "drive.translation") == ["drive.translation_added"]


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("Vuelos", "", "Write the update: its text cannot be empty."),
        ("Vuelos", "  \n ", "Write the update: its text cannot be empty."),
        ("x" * 161, "Texto.", "Keep the title under 160 characters."),
        ("", "x" * 20001, "Keep the update under 20000 characters."),
    ],
)
def test_a_bad_update_translation_is_refused_with_its_reason(app, admin, title, body, message):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.")
    response = translate_update(admin, drive_id, update_id, title=title, body=body)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_rows(app, UpdateTranslation) == 0
    assert audit_actions(app, "drive_update.translation") == []


@pytest.mark.parametrize("locale", ["de", "en", "EN", "es-ES", "zz"])
def test_a_language_that_cannot_be_translated_into_is_refused_by_name(app, admin, locale):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.")
    attempts = [
        admin.client.get(f"/admin/drives/{drive_id}/translations/{locale}"),
        translate(admin, drive_id, locale),
        admin.client.post(f"/admin/drives/{drive_id}/translations/{locale}/delete"),
        translate_update(admin, drive_id, update_id, locale, body="Texto."),
        admin.client.post(
            f"/admin/drives/{drive_id}/updates/{update_id}/translations/{locale}/delete"
        ),
    ]
    for response in attempts:
        assert response.status_code == 404
        assert UNKNOWN_LANGUAGE in unescape(response.get_data(as_text=True))
    assert count_rows(app, DriveTranslation) == 0
    assert count_rows(app, UpdateTranslation) == 0
    assert audit_actions(app, "drive.translation") == []
    assert audit_actions(app, "drive_update.translation") == []


# --- The public cache, and the audit log ----------------------------------------------------


class Ticker:
    """A monotonic clock the test moves by hand."""

    seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_saving_or_deleting_a_translation_clears_the_kept_pages_and_card(
    make_app, clock, monkeypatch
):
    app = make_app(PUBLIC_CACHE_SECONDS=60, SHARE_CARD_SECONDS=600)
    app.extensions["public_cache"] = PublicCache(Ticker())
    drive_id = make_drive(app)
    admin = StaffMember(app, clock, Role.ADMIN)
    cards = CardTitles(monkeypatch)
    reader = app.test_client()
    assert ORIGINAL_TITLE in heading(read(reader, PAGE + "?lang=es"))  # now kept for a minute
    reader.get(PAGE + "/share.png?lang=es")

    translate(admin, drive_id)
    assert "Reubicar a cinco personas" in heading(read(reader, PAGE + "?lang=es"))
    reader.get(PAGE + "/share.png?lang=es")
    assert cards.titles == [ORIGINAL_TITLE, "Reubicar a cinco personas"]

    admin.client.post(f"/admin/drives/{drive_id}/translations/es/delete")
    assert ORIGINAL_TITLE in heading(read(reader, PAGE + "?lang=es"))

    update_id = post_update(admin, drive_id, "Flights are booked.")
    assert "Flights are booked." in read(reader, PAGE + "?lang=es")
    translate_update(admin, drive_id, update_id, body="Vuelos reservados.")
    assert "Vuelos reservados." in read(reader, PAGE + "?lang=es")


def test_the_audit_log_names_the_language_never_the_text(app, admin):
    drive_id = make_drive(app)
    update_id = post_update(admin, drive_id, "Flights are booked.")
    translate(admin, drive_id)
    translate_update(admin, drive_id, update_id, title="Vuelos", body="Vuelos reservados.")
    admin.client.post(f"/admin/drives/{drive_id}/translations/es/delete")
    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action.like("%translation%"))
        ).all()
        rows = [
            (record.action, record.object_type, record.object_id, json.loads(record.details))
            for record in records
        ]
    assert rows == [
        ("drive.translation_added", "drive", str(drive_id), {"locale": "es"}),
        (
            "drive_update.translation_added",
            "drive_update",
            str(update_id),
            {"drive": drive_id, "locale": "es"},
        ),
        ("drive.translation_deleted", "drive", str(drive_id), {"locale": "es"}),
    ]
    flattened = repr(rows)
    for text in ("Reubicar", "persiguen", "Vuelos"):
        assert text not in flattened
