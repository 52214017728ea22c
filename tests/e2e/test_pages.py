"""Staff pages on a desktop and a phone: axe, no sideways scrolling, README screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from accounts.models import Role, User
from accounts.services import invite_user
from extensions import db
from tests.e2e.helpers import LiveServer, assert_accessible, screenshot, sign_in
from tests.factories import make_user, user_email

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
ADMIN_PAGES = [
    "/admin/",
    "/admin/audit",
    "/admin/security",
    "/cases/reviews/",
    "/admin/drives/",
    "/admin/drives/new",
    "/account/",
    "/no-such-page",
]


def fits_the_width(page: Any) -> bool:
    """True when nothing makes the page scroll sideways (tables scroll inside their box)."""
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def seed_staff(app: Flask) -> str:
    """A small team in every state the staff page shows; returns the admin's email."""
    admin_id = make_user(app, Role.ADMIN, email="ada.admin@example.org", name="Ada Admin")
    make_user(app, Role.CASEWORKER, email="cas.worker@example.org", name="Cas Worker")
    make_user(app, Role.FINANCE, email="fin.ledger@example.org", name="Fin Ledger")
    make_user(app, Role.CASEWORKER, email="new.hire@example.org", name="Noor Hire", is_vetted=False)
    make_user(
        app,
        Role.FINANCE,
        email="locked.out@example.org",
        name="Lou Locked",
        locked_until=datetime.now(UTC) + timedelta(minutes=15),
    )
    make_user(app, Role.CASEWORKER, email="gone@example.org", name="Gus Gone", is_active=False)
    with app.app_context():
        admin = db.session.get(User, admin_id)
        invite_user("next.colleague@example.org", "Nia Colleague", Role.CASEWORKER, actor=admin)
        db.session.commit()
    return "ada.admin@example.org"


def test_staff_pages_on_a_desktop(page: Any, live_server: LiveServer, app: Flask) -> None:
    page.goto(live_server("/login"))
    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to content")
    assert skip_link.evaluate("element => element === document.activeElement")
    assert skip_link.is_visible()
    page.goto(live_server("/login"))  # again, without the focus ring, for the picture
    screenshot(page, "login")

    sign_in(page, live_server, seed_staff(app))
    assert page.url == live_server("/admin/")
    for name in ("Awaiting vetting", "Locked (duress)", "Deactivated"):
        assert page.get_by_text(name, exact=True).is_visible()
    assert page.get_by_role("button", name="Mark vetted").is_visible()
    assert_accessible(page)
    screenshot(page, "admin-staff")

    for path in ADMIN_PAGES[1:]:
        page.goto(live_server(path))
        assert_accessible(page)
        if path == "/admin/security":
            assert page.get_by_role("cell", name="Invitation created").is_visible()


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"])
def test_staff_pages_on_a_phone(
    page: Any, live_server: LiveServer, app: Flask, viewport: dict[str, int]
) -> None:
    page.goto(live_server("/login"))
    assert fits_the_width(page)
    email = user_email(app, make_user(app, Role.ADMIN))
    sign_in(page, live_server, email)
    assert page.get_by_role("navigation", name="Staff").is_visible()
    for path in ADMIN_PAGES:
        page.goto(live_server(path))
        assert fits_the_width(page), f"{path} scrolls sideways at {viewport['width']} px"
        assert_accessible(page)
