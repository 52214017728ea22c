"""A donor gives through the drive page's own script (the Payment Element and the Express
Checkout Element, deferred intent), with the Stripe.js stand-in and localstripe; another open
page sees the total move without a reload."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from extensions import db
from fundraising.models import Donation, DonationStatus, Drive
from tests.conftest import Clock, settings_for, start_localstripe, stripe_settings
from tests.e2e.helpers import LiveServer, assert_accessible, screenshot
from tests.factories import make_drive

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with the real Stripe gateway against localstripe, whose webhooks reach it."""
    directory: Path = tmp_path_factory.mktemp("e2e-donation")
    # SEPA Debits clear only when a test says so (the bank's few days, held still).
    process, stripe_base = start_localstripe(directory, debits_clear_ms=0)
    settings = settings_for(f"sqlite:///{directory / 'e2e.db'}", directory / "instance", Clock())
    for name in ("CLOCK", "SERVER_NAME"):
        settings.pop(name)
    settings.update(stripe_settings(stripe_base))
    settings["STRIPE_PAYMENT_METHOD_TYPES"] = "card,sepa_debit"  # SEPA on euro drives only
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
    app.config["TEST_STRIPE_BASE"] = stripe_base
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


def totals(app, slug: str) -> tuple[int, int]:
    """The drive's maintained (raised, donors), from the database."""
    with app.app_context():
        drive = db.session.scalar(select(Drive).where(Drive.slug == slug))
        return drive.totals.raised_minor, drive.totals.donors


def donations(app, slug: str) -> list[Donation]:
    with app.app_context():
        drive_id = db.session.scalar(select(Drive.id).where(Drive.slug == slug))
        return list(db.session.scalars(select(Donation).where(Donation.drive_id == drive_id)))


def count_donations(app, slug: str) -> int:
    with app.app_context():
        drive_id = db.session.scalar(select(Drive.id).where(Drive.slug == slug))
        query = select(func.count()).select_from(Donation).where(Donation.drive_id == drive_id)
        return int(db.session.scalar(query) or 0)


def stripe_get(app, path: str) -> dict[str, Any]:
    """An object as localstripe keeps it (what the app and the page's script sent)."""
    return requests.get(
        app.config["TEST_STRIPE_BASE"] + path,
        headers={"Authorization": "Bearer sk_test_localstripe"},
        timeout=10,
    ).json()


def with_wallets(page, *wallets: str, card: str = "4242424242424242") -> None:
    """This "device" has these wallets (the stand-in's hook, set before the page loads)."""
    names = ", ".join(f"'{wallet}'" for wallet in wallets)
    page.add_init_script(f"window.stripeShim = {{ wallets: [{names}], walletCard: '{card}' }};")


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
    # No wallet on this device: the Express Checkout Element's place stays hidden.
    expect(page.locator("#field-express")).to_be_hidden()
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
    expect(page.locator("#payment-error")).to_contain_text("declined", ignore_case=True)
    expect(page.get_by_role("button", name="Give now")).to_be_enabled()
    assert "/drives/e2e-decline" in page.url
    assert totals(live_server.app, "e2e-decline") == (0, 0)  # nothing counted
    assert [gift.status for gift in donations(live_server.app, "e2e-decline")] == [
        DonationStatus.FAILED
    ]
    assert raised(page) == "$0.00"
    assert_accessible(page)  # the message and the form, as the donor now sees them
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


def test_an_incomplete_card_is_explained_and_nothing_reaches_the_server(live_server, page):
    make_drive(live_server.app, slug="e2e-incomplete")
    page.goto(live_server("/drives/e2e-incomplete"))
    page.get_by_label("Amount in USD").fill("20")
    page.get_by_label("Card number").fill("4242 4242")
    page.get_by_role("button", name="Give now").click()
    expect(page.locator("#payment-error")).to_have_text("Your card number is incomplete.")
    assert count_donations(live_server.app, "e2e-incomplete") == 0


def test_a_wallet_gift_posts_the_same_form_and_lands(live_server, page):
    make_drive(live_server.app, slug="e2e-wallet")
    with_wallets(page, "google_pay", "apple_pay")
    page.goto(live_server("/drives/e2e-wallet"))
    google_pay = page.get_by_role("button", name="Google Pay")
    expect(google_pay).to_be_visible()  # the device offers wallets: the element shows
    expect(page.get_by_role("button", name="Apple Pay")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Amount in USD").fill("40")
    page.get_by_label("Cover the card processing fee").check()
    google_pay.click()  # the donor approves in the wallet's sheet
    page.wait_for_url(re.compile(r".*/thanks\?payment_intent=pi_.*"))
    assert "went through" in page.inner_text("main")
    assert "$41.51" in page.inner_text("main")  # (4000 + 30) / 0.971, rounded up
    assert totals(live_server.app, "e2e-wallet") == (4151, 1)
    # The wallet's sheet showed what was charged: the elements' amount followed the form.
    assert page.evaluate("() => sessionStorage.getItem('stripeShimWalletAmount')") == "4151"
    (gift,) = donations(live_server.app, "e2e-wallet")
    intent = stripe_get(live_server.app, f"/v1/payment_intents/{gift.payment_intent_id}")
    assert intent["payment_method_types"] == ["card"]
    assert intent["amount"] == 4151
    method = stripe_get(live_server.app, f"/v1/payment_methods/{intent['payment_method']}")
    assert method["type"] == "card"
    assert method["billing_details"]["name"] == "Wallet Holder"  # from the wallet, not the form


def test_a_wallet_is_not_opened_for_an_amount_the_drive_would_refuse(live_server, page):
    make_drive(live_server.app, slug="e2e-wallet-amount")
    with_wallets(page, "google_pay")
    page.goto(live_server("/drives/e2e-wallet-amount"))
    page.get_by_label("Amount in USD").fill("twenty")
    page.get_by_role("button", name="Google Pay").click()
    expect(page.locator("#amount-error")).to_contain_text("Enter the amount as a number")
    # The page let the second pass without opening the wallet's sheet: no payment began.
    page.wait_for_function("() => window.stripeShimSheetsNotShown === 1")
    page.get_by_label("Amount in USD").fill("0.10")
    page.get_by_role("button", name="Google Pay").click()
    expect(page.locator("#amount-error")).to_contain_text("The smallest gift is $5.00.")
    page.wait_for_function("() => window.stripeShimSheetsNotShown === 2")
    assert count_donations(live_server.app, "e2e-wallet-amount") == 0
    assert "/drives/e2e-wallet-amount" in page.url


def test_a_declined_wallet_card_is_explained_and_counts_nothing(live_server, page):
    make_drive(live_server.app, slug="e2e-wallet-decline")
    with_wallets(page, "google_pay", card="4000000000000341")
    page.goto(live_server("/drives/e2e-wallet-decline"))
    page.get_by_label("Amount in USD").fill("20")
    page.get_by_role("button", name="Google Pay").click()
    expect(page.locator("#payment-error")).to_contain_text("declined", ignore_case=True)
    # The wallet's sheet was told the payment failed.
    assert page.evaluate("() => window.stripeShimWalletFailures") == 1
    assert totals(live_server.app, "e2e-wallet-decline") == (0, 0)
    assert [gift.status for gift in donations(live_server.app, "e2e-wallet-decline")] == [
        DonationStatus.FAILED
    ]


def test_a_sepa_debit_is_processing_until_the_bank_pays(live_server, page, context):
    """A euro drive offers SEPA Direct Debit too. The donor is thanked with "being
    processed"; the total moves only when Stripe's webhook says the debit cleared."""
    make_drive(live_server.app, slug="e2e-sepa", currency="eur")
    page.goto(live_server("/drives/e2e-sepa"))
    page.get_by_label("Amount in EUR").fill("30")
    page.get_by_label("Your name (optional)").fill("Jenny Rosen")
    page.get_by_label("SEPA Direct Debit").check()
    page.get_by_label("Account holder's full name").fill("Jenny Rosen")
    page.get_by_label("Account holder's email").fill("jenny@example.org")
    page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    assert_accessible(page)
    page.get_by_role("button", name="Give now").click()
    page.wait_for_url(re.compile(r".*/thanks\?payment_intent=pi_.*"))
    assert "is being processed" in page.inner_text("main")
    assert "€30.00" in page.inner_text("main")
    assert_accessible(page)
    assert totals(live_server.app, "e2e-sepa") == (0, 0)

    watcher = context.new_page()
    watcher.goto(live_server("/drives/e2e-sepa"))
    assert raised(watcher) == "€0.00"
    (gift,) = donations(live_server.app, "e2e-sepa")
    requests.post(
        f"{live_server.app.config['TEST_STRIPE_BASE']}/_debits/{gift.payment_intent_id}/clear",
        headers={"Authorization": "Bearer sk_test_localstripe"},
        timeout=10,
    ).raise_for_status()  # the bank pays; localstripe sends the webhook
    expect(watcher.locator("#raised")).to_have_text("€30.00", timeout=20_000)
    assert totals(live_server.app, "e2e-sepa") == (3000, 1)
