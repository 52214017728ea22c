"""Drive updates in a browser: an admin posts one, donors read it on the drive page, the
unsubscribe page answers; axe on each, and nothing scrolls sideways on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from accounts.models import Role
from extensions import db
from fundraising import services
from fundraising.models import Drive
from fundraising.update_mail import unsubscribe_token
from tests.e2e.helpers import LiveServer, assert_accessible, sign_in
from tests.factories import make_drive, make_user, user_email

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def fits_the_width(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_an_admin_posts_an_update_that_donors_read_on_the_drive_page(
    page: Any, live_server: LiveServer, app: Flask
) -> None:
    drive_id = make_drive(app, slug="news")
    sign_in(page, live_server, user_email(app, make_user(app, Role.ADMIN)))
    page.goto(live_server(f"/admin/drives/{drive_id}"))
    page.get_by_role("link", name="Updates").click()
    assert_accessible(page)
    page.get_by_label("Title (optional)").fill("Flights booked")
    page.get_by_label("Update (Markdown; no HTML)").fill("Two families fly on **Monday**.")
    page.get_by_role("button", name="Post").click()
    assert page.get_by_text("Update posted.").is_visible()
    assert_accessible(page)

    page.set_viewport_size(PHONE)
    page.goto(live_server("/drives/news"))
    updates = page.get_by_role("region", name="Updates")
    assert updates.get_by_role("heading", name="Flights booked").is_visible()
    assert updates.locator("strong", has_text="Monday").is_visible()
    assert not page.get_by_label("Email me updates about this drive").is_checked()
    assert fits_the_width(page)
    assert_accessible(page)


def test_the_unsubscribe_page_answers_both_ways(page: Any, live_server: LiveServer) -> None:
    app = live_server.app
    drive_id = make_drive(app, slug="leaving")
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        request = services.GiftRequest(amount_minor=2500, email="a@example.org", wants_updates=True)
        donation = services.start_donation(drive, request)
        db.session.commit()
        token = unsubscribe_token(donation.id)
    page.set_viewport_size(PHONE)
    page.goto(live_server(f"/updates/unsubscribe/{token}"))
    assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
    assert fits_the_width(page)
    assert_accessible(page)
    page.goto(live_server(f"/updates/unsubscribe/{token[:-4]}"))
    assert page.get_by_role("heading", name="This unsubscribe link does not work").is_visible()
    assert_accessible(page)
