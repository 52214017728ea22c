"""Staff sign-in in a real browser: each role with TOTP, bad codes, enrolment; axe on every page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from accounts.models import Role, User
from accounts.services import invite_user
from extensions import db
from tests.conftest import PASSWORD
from tests.e2e.helpers import LiveServer, assert_accessible, code_now, screenshot, sign_in
from tests.factories import make_user, user_email

pytestmark = pytest.mark.browser

# Navigation label -> the endpoint behind it; areas not built yet are left out. Admins get no
# Finance link: the ledger is the finance role's (DESIGN.md, who sees what).
NAV_ENDPOINTS = {
    "Staff": "admin.index",
    "Security": "admin.security_events",
    "Audit log": "admin.audit_log",
    "Drives": "drives_admin.index",
    "Cases": "cases.index",
    "Duplicates": "case_reviews.index",
    "Finance": "finance.index",
    "My account": "accounts.account",
}
NAV_FOR_ROLE = {
    Role.ADMIN: ["Staff", "Security", "Audit log", "Drives", "Cases", "Duplicates", "My account"],
    Role.CASEWORKER: ["Cases", "My account"],
    Role.FINANCE: ["Finance", "My account"],
}
HOME_FOR_ROLE = {Role.ADMIN: "/admin/", Role.CASEWORKER: "/cases/", Role.FINANCE: "/finance/"}
AREA_FOR_ROLE = {
    Role.ADMIN: "admin.index",
    Role.CASEWORKER: "cases.index",
    Role.FINANCE: "finance.index",
}


def nav_labels(page: Any) -> list[str]:
    links = page.get_by_role("navigation", name="Staff").get_by_role("link")
    return [text.strip() for text in links.all_inner_texts()]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_signs_in_with_totp(
    page: Any, live_server: LiveServer, app: Flask, role: Role
) -> None:
    email = user_email(app, make_user(app, role))
    sign_in(page, live_server, email)

    has_area = AREA_FOR_ROLE[role] in app.view_functions
    home = HOME_FOR_ROLE[role] if has_area else "/account/"
    assert page.url == live_server(home)
    assert_accessible(page)
    expected = [label for label in NAV_FOR_ROLE[role] if NAV_ENDPOINTS[label] in app.view_functions]
    assert nav_labels(page) == expected
    assert page.get_by_role("button", name="Sign out", exact=True).is_visible()

    page.goto(live_server("/account/"))
    assert page.get_by_role("heading", level=1).inner_text() == "My account"
    assert_accessible(page)

    if role is Role.ADMIN:
        page.get_by_role("link", name="Audit log").click()
        assert page.url == live_server("/admin/audit")
        assert page.get_by_role("cell", name="login.succeeded").first.is_visible()
        assert_accessible(page)

    page.goto(live_server("/no-such-page"))
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    assert_accessible(page)

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url("**/login")
    assert page.get_by_text("You are signed out.").is_visible()


def test_wrong_code_shows_the_error(page: Any, live_server: LiveServer, app: Flask) -> None:
    email = user_email(app, make_user(app, Role.FINANCE))
    right = code_now(app, email)
    sign_in(page, live_server, email, code="000000" if right != "000000" else "111111")

    assert page.url == live_server("/login")
    assert page.get_by_text(
        "Sign-in failed: the email, password or code was not right."
    ).is_visible()
    assert_accessible(page)
    page.goto(live_server("/account/"))
    assert "/login" in page.url  # still signed out


def test_code_in_the_wrong_format_is_explained_next_to_the_field(
    page: Any, live_server: LiveServer, app: Flask
) -> None:
    email = user_email(app, make_user(app, Role.CASEWORKER))
    sign_in(page, live_server, email, code="12ab")

    field = page.get_by_label("Authentication code")
    assert field.get_attribute("aria-invalid") == "true"
    assert page.get_by_text("Enter 6 digits.").is_visible()
    assert_accessible(page)


def test_invitation_sets_a_password_and_enrols_an_authenticator(
    page: Any, live_server: LiveServer, app: Flask
) -> None:
    with app.app_context():
        admin = db.session.get(User, make_user(app, Role.ADMIN))
        token, _ = invite_user("invitee@example.org", "Ines Invitee", Role.CASEWORKER, actor=admin)
        db.session.commit()

    page.goto(live_server(f"/invite/{token}"))
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome, Ines Invitee"
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the new password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/enrol")
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    assert_accessible(page)
    screenshot(page, "enrolment")

    page.get_by_label("Authentication code").fill(code_now(app, "invitee@example.org"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/login")
    assert page.get_by_text("An admin will vet it").is_visible()
    assert_accessible(page)

    page.goto(live_server(f"/invite/{token}"))
    assert page.get_by_text("already been used").is_visible()
    assert_accessible(page)
