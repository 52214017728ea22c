"""A finance user reconciles a payout against the bank, approves a disbursement and records a
gift that came outside Stripe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role, User
from cases import services as case_services
from cases.models import RiskLevel
from extensions import db
from finance.demo import seed_demo_payout
from finance.models import Category
from fundraising import services as fundraising_services
from fundraising.models import DonationStatus, Drive
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import make_drive, make_user, user_email

pytestmark = pytest.mark.browser


def test_finance_reconciles_a_payout_and_approves_a_disbursement(live_server, page):
    app = live_server.app
    worker_id = make_user(app, Role.CASEWORKER, "worker@example.org")
    finance_id = make_user(app, Role.FINANCE, "money@example.org")
    drive_id = make_drive(app, slug="books", title="Flights out")
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        for amount in (120_000, 80_000, 5_000):
            gift = fundraising_services.start_donation(
                drive, fundraising_services.GiftRequest(amount_minor=amount)
            )
            fundraising_services.set_payment_status(gift, DonationStatus.SUCCEEDED)
        seed_demo_payout(drive)
        worker = db.session.get(User, worker_id)
        case = case_services.create_case(
            worker,
            {"legal_name": "Hidden From Finance"},
            case_services.ClearFields(risk_level=RiskLevel.HIGH, region="North"),
        )
        case_services.request_money(
            case,
            worker,
            drive_id=drive.id,
            category=Category.FLIGHT,
            amount_minor=64_000,
            payee="Agent",
            note="",
        )
        code = case.code
        db.session.commit()

    sign_in(page, live_server, user_email(app, finance_id))
    expect(page.locator("h1")).to_have_text("Finance")
    assert_accessible(page)
    screenshot(page, "finance")
    expect(page.locator("main")).to_contain_text(code)
    expect(page.locator("main")).not_to_contain_text("Hidden From Finance")

    page.locator("a[href*='/finance/payouts/']").first.click()
    expect(page.locator("main")).to_contain_text("add up to the payout exactly")
    assert_accessible(page)
    screenshot(page, "payout")
    page.get_by_label("Bank statement reference").fill("BANK-2026-11-22-001")
    page.get_by_role("button", name="Mark reconciled").click()
    expect(page.locator("main")).to_contain_text("BANK-2026-11-22-001")

    page.goto(live_server("/finance/disbursements"))
    assert_accessible(page)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("main")).to_contain_text("Approved")
    page.get_by_role("link", name=re.compile("see whom to pay")).click()
    expect(page.locator("main")).to_contain_text("Pay to")
    assert_accessible(page)
    page.get_by_label("Payment reference").fill("TRANSFER-42")
    page.get_by_role("button", name="Mark paid").click()
    expect(page.locator("main")).to_contain_text("TRANSFER-42")
    assert_accessible(page)

    # The drive's ledger now counts the paid flight, and draws it.
    page.goto(live_server(f"/finance/drives/{drive_id}"))
    expect(page.locator("main")).to_contain_text("$640.00")
    expect(page.locator("main svg")).to_have_count(3)
    assert_accessible(page)
    screenshot(page, "ledger")


def test_finance_records_a_bank_transfer_on_the_drive_ledger(live_server, page):
    """A gift outside Stripe counts at once; a bad entry is refused beside its field."""
    app = live_server.app
    finance_id = make_user(app, Role.FINANCE, "books@example.org")
    drive_id = make_drive(app, slug="by-hand", title="Safe housing")
    sign_in(page, live_server, user_email(app, finance_id))
    page.goto(live_server(f"/finance/drives/{drive_id}"))
    page.get_by_label("Amount received").fill("12.345")
    page.get_by_label("Date received").fill("2026-11-20")
    page.get_by_label("How it was given").select_option("bank_transfer")
    page.get_by_label("Reference", exact=True).fill("FPS 20NOV 88431")
    page.get_by_role("button", name="Record the gift").click()
    expect(page.locator("main")).to_contain_text("Use at most 2 digits after the decimal point.")
    assert_accessible(page)
    page.get_by_label("Amount received").fill("500")
    page.get_by_role("button", name="Record the gift").click()
    expect(page.locator("main")).to_contain_text("$500.00 by bank transfer recorded and counted.")
    expect(page.locator("main")).to_contain_text("FPS 20NOV 88431")
    expect(page.locator("main")).to_contain_text("another finance user can reverse it")
    assert_accessible(page)
    screenshot(page, "offline-gift")
