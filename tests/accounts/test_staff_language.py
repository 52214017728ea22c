"""The staff pages in a staff member's own language: ?lang= picks it, the cookie keeps it on
every page after (sign-out and sign-in included), Arabic reads right to left, and staff email
follows the staff member who caused it, never an outsider's browser.

The app gets a small Arabic catalogue of its own here, so the tests see real translations
whatever the shipped catalogues hold."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from accounts.models import Role
from tests.accounts.test_security_events import Inbox, _free_port, _smtp
from tests.conftest import PASSWORD
from tests.factories import StaffMember

ARABIC = {
    "Staff": "الموظفون",
    "My account": "حسابي",
    "Staff sign-in": "دخول الموظفين",
    "Drives": "الحملات",
    "Security events": "الأحداث الأمنية",
    'The full record is in the <a href="%(url)s">audit log</a>.': (
        'السجل الكامل في <a href="%(url)s">سجل التدقيق</a>.'
    ),
    "Role change asked for": "طُلب تغيير دور",
    "Many failed sign-ins for one account": "محاولات دخول فاشلة كثيرة لحساب واحد",
    "Security event: %(event)s": "حدث أمني: %(event)s",
}
RIGHT_TO_LEFT = '<html lang="ar" dir="rtl">'
LEFT_TO_RIGHT = '<html lang="en" dir="ltr">'


@pytest.fixture
def translations(tmp_path: Path) -> Path:
    """A translations directory with an Arabic catalogue of a few staff messages."""
    catalogue = Catalog(locale="ar")
    for msgid, msgstr in ARABIC.items():
        catalogue.add(msgid, msgstr)
    directory = tmp_path / "translations" / "ar" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    with (directory / "messages.mo").open("wb") as target:
        write_mo(target, catalogue)
    return tmp_path / "translations"


@pytest.fixture
def mailbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback, as in the security events' tests."""
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def app(make_app, translations):
    return make_app(BABEL_TRANSLATION_DIRECTORIES=str(translations))


def heading(page) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page.get_data(as_text=True), flags=re.S)
    assert found is not None
    return found.group(1).strip()


@pytest.mark.parametrize(
    ("role", "path", "title"),
    [
        (Role.ADMIN, "/admin/", "الموظفون"),
        (Role.ADMIN, "/admin/security", "الأحداث الأمنية"),
        (Role.ADMIN, "/admin/drives/", "الحملات"),
        (Role.FINANCE, "/account/", "حسابي"),
    ],
)
def test_a_staff_page_asked_for_in_arabic_reads_right_to_left(app, clock, role, path, title):
    member = StaffMember(app, clock, role)
    page = member.client.get(f"{path}?lang=ar")
    assert page.status_code == 200
    assert RIGHT_TO_LEFT in page.get_data(as_text=True)
    assert heading(page) == title


def test_without_a_choice_the_staff_pages_are_english_and_left_to_right(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN)
    page = admin.client.get("/admin/")
    assert LEFT_TO_RIGHT in page.get_data(as_text=True)
    assert heading(page) == "Staff"


def test_a_link_inside_a_translated_sentence_still_works(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN)
    text = admin.client.get("/admin/security?lang=ar").get_data(as_text=True)
    assert 'السجل الكامل في <a href="/admin/audit">سجل التدقيق</a>.' in text


def test_the_language_chosen_once_stays_on_every_staff_page_after(app, clock):
    admin = StaffMember(app, clock, Role.ADMIN)
    admin.client.get("/admin/?lang=ar")
    assert admin.client.get_cookie("lang").value == "ar"
    for path, title in [
        ("/admin/security", "الأحداث الأمنية"),
        ("/admin/drives/", "الحملات"),
        ("/account/", "حسابي"),
    ]:
        page = admin.client.get(path)
        assert RIGHT_TO_LEFT in page.get_data(as_text=True), path
        assert heading(page) == title

    admin.auth.logout()  # the choice is the browser's, not the session's: it outlives sign-out
    assert RIGHT_TO_LEFT in admin.client.get("/login").get_data(as_text=True)
    assert heading(admin.client.get("/login")) == "دخول الموظفين"
    admin.auth.login(admin.email)
    assert heading(admin.client.get("/admin/")) == "الموظفون"

    admin.client.get("/account/?lang=en")
    page = admin.client.get("/admin/")
    assert LEFT_TO_RIGHT in page.get_data(as_text=True)
    assert heading(page) == "Staff"


@pytest.mark.parametrize("value", ["xx", "AR", "ar-EG", "", "../ar"])
def test_a_language_the_app_does_not_have_changes_nothing(app, clock, value):
    admin = StaffMember(app, clock, Role.ADMIN)
    admin.client.get("/admin/?lang=ar")
    page = admin.client.get("/admin/", query_string={"lang": value})
    assert page.status_code == 200
    assert RIGHT_TO_LEFT in page.get_data(as_text=True)  # still the choice made before
    assert admin.client.get_cookie("lang").value == "ar"


def _received(handler) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(content.encode(), policy=email.policy.default)
        for _recipients, content in handler.messages
    ]


def test_an_email_to_admins_is_in_the_language_of_the_admin_who_caused_it(
    make_app, translations, clock, mailbox
):
    handler, port = mailbox
    app = make_app(BABEL_TRANSLATION_DIRECTORIES=str(translations), **_smtp(port))
    admin = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    other = StaffMember(app, clock, Role.CASEWORKER)
    admin.client.get("/admin/?lang=ar")
    admin.reauthenticate()
    response = admin.client.post(f"/admin/users/{other.id}/role", data={"role": "finance"})
    assert response.status_code == 302

    [message] = _received(handler)
    assert message["Subject"] == "حدث أمني: طُلب تغيير دور"
    assert "طُلب تغيير دور" in message.get_content()


def test_an_outsiders_browser_never_picks_the_language_admins_are_alerted_in(
    make_app, translations, clock, mailbox
):
    handler, port = mailbox
    app = make_app(
        BABEL_TRANSLATION_DIRECTORIES=str(translations), FAILED_SIGN_IN_ALARM=1, **_smtp(port)
    )
    admin = StaffMember(app, clock, Role.ADMIN, "ada@example.org")
    outsider = app.test_client()
    outsider.post(
        "/login?lang=ar",
        data={"email": admin.email, "password": PASSWORD + " wrong"},
        headers={"Accept-Language": "ar"},
    )

    [message] = _received(handler)
    assert message["Subject"] == "Security event: Many failed sign-ins for one account"
    assert "Many failed sign-ins for one account" in message.get_content()
