"""A donor gives through the drive page's own script, with the Stripe.js stand-in and
localstripe; another open page sees the total move without a reload."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app import create_app
from extensions import db
from tests.conftest import Clock, settings_for, start_localstripe, stripe_settings
from tests.e2e.helpers import LiveServer, assert_accessible, screenshot
from tests.factories import make_drive

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with the real Stripe gateway against localstripe, whose webhooks reach it."""
    directory: Path = tmp_path_factory.mktemp("e2e-donation")
    process, stripe_base = start_localstripe(directory)
    settings = settings_for(f"sqlite:///{directory / 'e2e.db'}", directory / "instance", Clock())
    for name in ("CLOCK", "SERVER_NAME"):
        settings.pop(name)
    settings.update(stripe_settings(stripe_base))
    settings.update(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False, PROPAGATE_UNEXPECTED=False)
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.port}"
    requests.post(
        f"{stripe_base}/_config/webhooks/app",
        data={"url": url + "/stripe/webhook", "secret": settings["STRIPE_WEBHOOK_SECRET"]},
        timeout=10,
    ).raise_for_status()
    yield LiveServer(app, url)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    process.terminate()
    process.wait(timeout=10)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def fill_card(page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill("12/34")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Postcode").fill("10115")


def raised(page) -> str:
    return page.locator("#raised").inner_text()


def test_donor_gives_and_another_page_sees_the_total_move(live_server, context, browser):
    make_drive(live_server.app, slug="e2e-drive", title="Get five people to safety")
    watcher_context = browser.new_context(viewport={"width": 390, "height": 844})
    watcher = watcher_context.new_page()
    watcher.goto(live_server("/drives/e2e-drive"))
    assert raised(watcher) == "$0.00"
    assert watcher.locator("#bar-fill").bounding_box()["width"] == 0
    # On a phone the form is below the story: the link at the top takes the donor there.
    watcher.get_by_role("link", name="Give now").click()
    expect(watcher.get_by_role("heading", name="Give")).to_be_in_viewport()
    assert_accessible(watcher)

    page = context.new_page()
    page.goto(live_server("/drives/e2e-drive"))
    assert_accessible(page)
    expect(page.get_by_role("link", name="Give now")).to_be_hidden()  # the form is beside it
    page.get_by_role("button", name="$100.00").click()
    assert page.get_by_label("Amount in USD").input_value() == "100.00"
    page.get_by_label("Cover the card processing fee").check()
    assert "you give $103.30" in page.locator("#total").inner_text()
    page.get_by_label("Your name (optional)").fill("Amal Haddad")
    page.get_by_label("Email for the receipt (optional)").fill("amal@example.org")
    fill_card(page, "4242 4242 4242 4242")
    screenshot(page, "drive")
    page.get_by_role("button", name="Give now").click()
    page.wait_for_url(re.compile(r".*/thanks\?payment_intent=pi_.*"))
    assert "Thank you, Amal Haddad" in page.inner_text("main")
    assert "$103.30" in page.inner_text("main")
    assert_accessible(page)

    # The watcher never reloads: its script polls progress.json while visible.
    expect(watcher.locator("#raised")).to_have_text("$103.30", timeout=20_000)
    expect(watcher.locator("#donors")).to_have_text("1")
    # $103.30 of $60,000 is under 1 %: the bar still shows the first gift.
    expect(watcher.locator("#bar")).to_have_attribute("aria-valuenow", "0")
    expect(watcher.locator("#bar-fill")).to_have_class("bar-fill w-1")
    # Visible once the width's transition has run (waits for it, fails after the timeout).
    # A function, not an expression string: Playwright evaluates a string with eval() on each
    # poll, which the page's CSP (no 'unsafe-eval') refuses once the first poll is false.
    watcher.wait_for_function("() => document.getElementById('bar-fill').offsetWidth > 0")
    watcher_context.close()


def test_declined_card_shows_stripe_message_and_allows_a_retry(live_server, page):
    make_drive(live_server.app, slug="e2e-decline")
    page.goto(live_server("/drives/e2e-decline"))
    page.get_by_label("Amount in USD").fill("20")
    fill_card(page, "4000 0000 0000 0341")
    page.get_by_role("button", name="Give now").click()
    expect(page.locator("#card-error")).to_contain_text("declined", ignore_case=True)
    assert "/drives/e2e-decline" in page.url
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Give now").click()
    page.wait_for_url(re.compile(r".*/thanks.*"))
    assert "went through" in page.inner_text("main")


def test_three_d_secure_is_finished_in_the_page(live_server, page):
    make_drive(live_server.app, slug="e2e-3ds")
    page.goto(live_server("/drives/e2e-3ds"))
    page.get_by_label("Amount in USD").fill("35")
    fill_card(page, "4000 0027 6000 3184")
    page.get_by_role("button", name="Give now").click()
    page.wait_for_url(re.compile(r".*/thanks.*"))
    assert "went through" in page.inner_text("main")
    assert "$35.00" in page.inner_text("main")
