"""Drive translations in a browser: an admin adds a Spanish title and story from the drive's
admin page, a Spanish reader reads them on a phone, an Arabic reader gets the English marked as
English; axe on each page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from accounts.models import Role
from tests.e2e.helpers import LiveServer, assert_accessible, sign_in
from tests.factories import make_drive, make_user, user_email

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def test_an_admin_translates_a_drive_that_spanish_readers_then_read(
    page: Any, browser: Any, live_server: LiveServer, app: Flask
) -> None:
    drive_id = make_drive(app, slug="translated")
    sign_in(page, live_server, user_email(app, make_user(app, Role.ADMIN)))
    page.goto(live_server(f"/admin/drives/{drive_id}"))
    translations = page.get_by_role("region", name="Translations").first
    assert translations.get_by_role("row", name="Arabic").is_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Add a Spanish translation").click()
    assert page.get_by_role("heading", name="The English original").is_visible()
    assert_accessible(page)
    page.get_by_label("Title", exact=True).fill("Reubicar a cinco personas")
    page.get_by_label("Story (Markdown; no HTML)").fill("Las persiguen por **quiénes son**.")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_text("Translation saved (Spanish).").is_visible()
    assert page.get_by_role("link", name="Edit the Spanish translation").is_visible()
    assert_accessible(page)

    reader_context = browser.new_context(viewport=PHONE, locale="en-GB")  # no staff cookie
    reader = reader_context.new_page()
    reader.goto(live_server("/drives/translated?lang=es"))
    assert reader.get_by_role("heading", level=1, name="Reubicar a cinco personas").is_visible()
    assert reader.locator(".story strong", has_text="quiénes son").is_visible()
    assert_accessible(reader)
    reader.goto(live_server("/drives/translated?lang=ar"))
    title = reader.get_by_role("heading", level=1, name="Relocate five people")
    assert title.get_attribute("lang") == "en"
    assert_accessible(reader)
    reader_context.close()
