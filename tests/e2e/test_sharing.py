"""The share control in a browser: plain links without JavaScript, the Share and Copy buttons
with it, axe clean on a desktop and a phone."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.e2e.helpers import LiveServer, assert_accessible
from tests.factories import make_drive

pytestmark = pytest.mark.browser

LINKS = ["WhatsApp", "Telegram", "X", "Facebook", "Email"]
# Stands in for the Web Share API, which desktop Chromium on Linux lacks: keeps what it got.
FAKE_SHARE_SHEET = """
Object.defineProperty(navigator, "share", {
  configurable: true,
  value: function (data) { window.sharedWith = data; return Promise.resolve(); },
});
"""


@pytest.fixture(scope="module")
def drive_path(live_server: LiveServer) -> str:
    make_drive(live_server.app, slug="e2e-share", story="Five people need to leave **now**.")
    return "/drives/e2e-share"


def share_region(page: Any) -> Any:
    return page.get_by_role("region", name="Share this drive")


def test_without_javascript_the_links_and_the_address_are_there(
    browser: Any, live_server: LiveServer, drive_path: str
) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.goto(live_server(drive_path + "?via=newsletter"))
    region = share_region(page)
    for name in LINKS:
        expect(region.get_by_role("link", name=name)).to_be_visible()
    box = region.get_by_label("Link to copy (for Signal or any other app)")
    expect(box).to_be_visible()
    expect(box).to_have_value(live_server(drive_path + "?via=link"))
    expect(region.get_by_role("button", name="Share…")).to_be_hidden()
    expect(region.get_by_role("button", name="Copy link")).to_be_hidden()
    assert page.locator('#donate-form input[name="via"]').get_attribute("value") == "newsletter"
    context.close()  # (axe needs JavaScript: the other tests check this page with it)


def test_with_javascript_the_share_sheet_and_copy_buttons_work(
    browser: Any, live_server: LiveServer, drive_path: str, app: Flask
) -> None:
    context = browser.new_context(locale="en-GB")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.add_init_script(FAKE_SHARE_SHEET)
    page = context.new_page()
    page.goto(live_server(drive_path))
    region = share_region(page)

    share = region.get_by_role("button", name="Share…")
    expect(share).to_be_visible()
    share.click()
    shared = page.evaluate("window.sharedWith")
    assert shared == {
        "title": "Relocate five people",
        "url": live_server(drive_path + "?via=share"),
    }

    copy = region.get_by_role("button", name="Copy link")
    copy.focus()
    page.keyboard.press("Enter")
    expect(region.get_by_role("status")).to_have_text(
        "Link copied. Paste it into Signal or any other app."
    )
    assert page.evaluate("navigator.clipboard.readText()") == live_server(drive_path + "?via=link")
    assert_accessible(page)
    context.close()


def test_on_a_phone_the_share_control_fits_and_passes_axe(
    browser: Any, live_server: LiveServer, drive_path: str
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    page = context.new_page()
    page.goto(live_server(drive_path))
    region = share_region(page)
    region.scroll_into_view_if_needed()
    for name in LINKS:
        expect(region.get_by_role("link", name=name)).to_be_visible()
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert_accessible(page)
    page.goto(live_server(drive_path + "/thanks"))
    expect(page.get_by_role("region", name="Ask a friend to give too")).to_be_visible()
    assert_accessible(page)
    context.close()
