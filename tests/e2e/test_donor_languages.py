"""The drive page in a browser in another language, on a phone: Arabic laid out right to left
(the progress bar filling from the right), Spanish amounts typed with a decimal comma, and
every word the page's script writes taken from the page, axe clean. (Whether each word is
translated is for the shipped catalogues: tests/test_translations.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import LiveServer, assert_accessible
from tests.factories import make_drive
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def viewport() -> dict[str, int]:
    return PHONE


@pytest.fixture(scope="module")
def drive_path(live_server: LiveServer) -> str:
    make_drive(live_server.app, slug="e2e-languages", goal_minor=10_000)
    return "/drives/e2e-languages"


def messages(page: Any) -> dict[str, Any]:
    words: dict[str, Any] = page.evaluate(
        "JSON.parse(document.getElementById('page-messages').textContent)"
    )
    return words


def test_arabic_is_right_to_left_and_the_bar_fills_from_the_right(
    browser: Any, live_server: LiveServer
) -> None:
    drive_id = make_drive(live_server.app, slug="e2e-arabic", goal_minor=10_000)
    gift = make_gift(live_server.app, drive_id, 2500)
    deliver(live_server.app.test_client(), gift.succeeded())
    context = browser.new_context(viewport=PHONE, locale="ar")
    page = context.new_page()
    page.goto(live_server("/drives/e2e-arabic"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    track = page.locator("#bar").bounding_box()
    fill = page.locator("#bar-fill").bounding_box()
    assert track
    assert fill
    assert fill["width"] == pytest.approx(track["width"] / 4, abs=3)  # 25 % of the goal
    assert fill["x"] + fill["width"] == pytest.approx(track["x"] + track["width"], abs=2)
    # Text starts at the right: the amount's label ends at its field's right edge, and its
    # words sit in the right half.
    words = page.evaluate(
        """() => { const range = document.createRange();
                   range.selectNodeContents(document.querySelector("label[for=amount]"));
                   const box = range.getBoundingClientRect();
                   return { x: box.x, width: box.width }; }"""
    )
    field = page.locator("#amount").bounding_box()
    assert field
    assert words["x"] + words["width"] == pytest.approx(field["x"] + field["width"], abs=2)
    assert words["x"] > field["x"] + field["width"] / 2
    assert_accessible(page)
    context.close()


def test_spanish_amounts_take_a_decimal_comma_and_the_script_s_words_come_from_the_page(
    browser: Any, live_server: LiveServer, drive_path: str
) -> None:
    context = browser.new_context(viewport=PHONE, locale="es-ES")
    page = context.new_page()
    page.goto(live_server(drive_path))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    words = messages(page)
    page.locator("#amount").fill("25,50")
    total = words["total"].replace("{total}", "25,50\xa0US$")  # Intl's Spanish format
    expect(page.locator("#total")).to_have_text(total)
    # No Stripe key on this server: the script says so, in the page's words.
    expect(page.locator("#payment-error")).to_have_text(words["no_stripe"])
    # The time left, in Spanish units (Intl), inside the page's sentence.
    expect(page.locator("#time-left")).to_contain_text("horas")
    assert_accessible(page)
    context.close()


def test_the_donor_count_takes_its_plural_form_when_it_changes(
    page: Any, live_server: LiveServer
) -> None:
    drive_id = make_drive(live_server.app, slug="e2e-plural", goal_minor=10_000)
    page.goto(live_server("/drives/e2e-plural"))
    expect(page.locator("#donor-count")).to_have_text("0 donors")
    deliver(live_server.app.test_client(), make_gift(live_server.app, drive_id, 2500).succeeded())
    # The page polls progress.json every 5-7 s and rewrites the phrase for the new count.
    expect(page.locator("#donor-count")).to_have_text("1 donor", timeout=20_000)
    expect(page.locator("#donors")).to_have_text("1")
    expect(page.locator("#raised")).to_have_text("$25.00")
